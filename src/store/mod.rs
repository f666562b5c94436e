//! Durable state in sled: runs, the outbox of effects still to perform, the keys of
//! events already handled (`seen`), environment locks, the audit log, the Slack
//! messages already posted (so a re-run effect edits instead of posting twice), and
//! the once-effects that were started (`started`: a restart that finds one reports
//! it interrupted instead of running it blindly again).
//!
//! The one rule: a state change, the effects it causes, its audit entries and the
//! dedup key of the event that caused it are written in ONE sled transaction and
//! flushed to disk before any effect runs ([`Store::commit`]); its audit entries are
//! also appended to the hash-chained log beside the store ([`audit_log`]) and made
//! durable before the commit returns. A crash at any moment therefore leaves either
//! nothing or everything, and the outbox replays what was not yet done.
//!
//! Damage is looked for at start: every record must decode, and the generation sled
//! keeps (bumped in each commit's transaction) must reach the one recorded outside
//! sled after each commit ([`record`]); a store that lost data refuses to open and
//! says what was found and how to restore. A write that fails at run time marks the
//! store unwritable ([`Store::is_writable`]): every later write and the outbox are
//! refused until [`Store::recover`] reopens it (sled stops writing after an I/O
//! error until it is reopened). Retention ([`Retention`]) keeps `seen`, `posted`
//! and the audit tree from growing without bound.
//!
//! This module knows how to keep data, not what the workflow means.

pub mod audit_log;
mod codec;
pub mod record;
mod retention;

use crate::ids::RunId;
use crate::workflow::effect::Effect;
use crate::workflow::run::{Run, StoredRun, RUN_FORMAT};
use audit_log::AuditLog;
use chrono::{DateTime, Utc};
use codec::{decode, encode, Corrupt};
use record::{Reading, Record, RecordFile};
pub use retention::{Pruned, Retention};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Bumped when the on-disk layout changes incompatibly.
const SCHEMA_VERSION: u64 = 1;

/// The trees, by name. Their names are part of the on-disk format.
const TREES: [&str; 9] = [
    "runs", "outbox", "seen", "locks", "audit", "posted", "started", "meta", "retired",
];

const RESTORE: &str = "Nothing was changed. Restore the store folder from a backup, or move it aside to start empty (runs in flight would be forgotten; the audit log beside it keeps every entry)";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store at {path} is in use by another lockstep process; stop it first, or point [store].path elsewhere")]
    InUse { path: PathBuf },
    #[error("the store at {path} cannot be created or written by this user ({detail}); give the user lockstep runs as write access to it and its folder, or point [store].path elsewhere")]
    NotWritable { path: PathBuf, detail: String },
    #[error("the store at {path} cannot be created: {file} is a file, not a folder; point [store].path at a folder path")]
    UnderAFile { path: PathBuf, file: PathBuf },
    #[error(
        "the store at {path} is on a read-only filesystem; point [store].path at a writable disk"
    )]
    ReadOnly { path: PathBuf },
    #[error("the store at {path} cannot be opened: {detail}; check that the path is a folder lockstep can create, read and write")]
    Unreadable { path: PathBuf, detail: String },
    #[error("the store at {path} is damaged: {corrupt}. {RESTORE}")]
    Corrupt { path: PathBuf, corrupt: Corrupt },
    #[error("the store at {path} is damaged: {found}. {RESTORE}")]
    Damaged { path: PathBuf, found: String },
    #[error("the audit log of the store at {path} is damaged: {found}. Nothing was changed. Keep a copy for whoever investigates, then restore the log from a backup, or move it aside to start a new one; `lockstep audit verify --store {path}` checks it")]
    AuditLog { path: PathBuf, found: String },
    #[error("the store at {path} was written by a newer lockstep (schema {found}, this build knows {SCHEMA_VERSION}); run the newer version")]
    TooNew { path: PathBuf, found: u64 },
    #[error("the store at {path} holds run {run} in format {found}, written by a newer lockstep (this build knows format {RUN_FORMAT}); run the newer version, or it would be lost")]
    RunTooNew {
        path: PathBuf,
        run: String,
        found: u32,
    },
    #[error("the store cannot be written ({reason}); nothing more is recorded until it can be written again")]
    Unavailable { reason: String },
    #[error("store I/O failed: {0}")]
    Io(#[from] sled::Error),
    #[error("store data is damaged: {0}")]
    Data(#[from] Corrupt),
}

impl StoreError {
    /// Whether waiting (and reopening) may help: the disk, not the data.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable { .. }
                | StoreError::Io(_)
                | StoreError::InUse { .. }
                | StoreError::NotWritable { .. }
                | StoreError::ReadOnly { .. }
                | StoreError::Unreadable { .. }
        )
    }
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
    /// The drift watcher's digest of the drift it posts with this batch: the stack
    /// ("" for a single stack) and the digest.
    pub watch_digest: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// The dedup key was already recorded: nothing was written.
    AlreadySeen,
}

/// How big the store is, for `status` and the soak benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreSize {
    /// sled's files, as sled counts them.
    pub bytes_on_disk: u64,
    /// The audit log beside the store.
    pub audit_log_bytes: u64,
    pub runs: usize,
    pub outbox: usize,
    pub seen: usize,
    pub posted: usize,
    pub audit: usize,
}

/// A handle on the store; clones share one open database.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    retention: Retention,
    /// `None` only while [`Store::recover`] swaps the database.
    inner: RwLock<Option<Arc<Inner>>>,
    /// Why writes are refused, while they are; watched by the bot's readiness.
    health: tokio::sync::watch::Sender<Option<String>>,
    /// Fault injection: writes fail as on a full or read-only disk.
    fail_writes: AtomicBool,
    /// One commit at a time: the generation, the audit log and the record follow
    /// sled's order.
    commit_turn: tokio::sync::Mutex<()>,
    commits: AtomicU64,
    /// sled's page cache bound, kept for reopening.
    cache_bytes: u64,
}

/// One open database, with the files kept beside sled.
struct Inner {
    db: sled::Db,
    runs: sled::Tree,
    outbox: sled::Tree,
    seen: sled::Tree,
    locks: sled::Tree,
    audit: sled::Tree,
    posted: sled::Tree,
    started: sled::Tree,
    meta: sled::Tree,
    retired: sled::Tree,
    store_id: String,
    generation: AtomicU64,
    record: Mutex<RecordFile>,
    audit_log: Arc<Mutex<AuditLog>>,
}

/// sled's page cache unless `[store] cache_mb` says otherwise: sled's own default
/// is 1 GiB, far above what the bot's records need.
pub const DEFAULT_CACHE_BYTES: u64 = 16 * 1024 * 1024;

const META_STORE_ID: &str = "store_id";
const META_GENERATION: &str = "generation";
const META_WATCH_DIGEST: &str = "watch_digest";

/// Where a stack's watcher digest is kept (the single stack's key predates stacks).
fn watch_digest_key(stack: &str) -> String {
    crate::stacks::stack_key(stack, META_WATCH_DIGEST)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl Store {
    /// Opens (or creates) the store and checks it: every record must be readable
    /// and sled must hold every commit the store's record says was made, so damage
    /// is found at start-up with a clear message, not mid-promotion.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, Retention::default())
    }

    pub fn open_with(path: &Path, retention: Retention) -> Result<Self, StoreError> {
        Self::open_tuned(path, retention, DEFAULT_CACHE_BYTES)
    }

    /// As [`Store::open_with`], with sled's page cache bounded to `cache_bytes`
    /// (`[store] cache_mb`). sled keeps every page it reads or writes until the
    /// cache is full, so this bounds how far a long-running bot's memory grows
    /// with its store.
    pub fn open_tuned(
        path: &Path,
        retention: Retention,
        cache_bytes: u64,
    ) -> Result<Self, StoreError> {
        let inner = Inner::open(path, cache_bytes)?;
        Ok(Store {
            shared: Arc::new(Shared {
                path: path.to_path_buf(),
                retention,
                cache_bytes,
                inner: RwLock::new(Some(Arc::new(inner))),
                health: tokio::sync::watch::Sender::new(None),
                fail_writes: AtomicBool::new(false),
                commit_turn: tokio::sync::Mutex::new(()),
                commits: AtomicU64::new(0),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The hash-chained audit log beside the store.
    pub fn audit_log_path(&self) -> PathBuf {
        audit_log::log_path(&self.shared.path)
    }

    fn inner(&self) -> Result<Arc<Inner>, StoreError> {
        self.shared
            .inner
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
            .ok_or_else(|| StoreError::Unavailable {
                reason: "the store is being reopened".into(),
            })
    }

    /// The database for a write, or why writes are refused now.
    fn writable(&self) -> Result<Arc<Inner>, StoreError> {
        if let Some(reason) = self.shared.health.borrow().clone() {
            return Err(StoreError::Unavailable { reason });
        }
        if self.shared.fail_writes.load(Ordering::SeqCst) {
            let err = StoreError::Io(sled::Error::Io(std::io::Error::other(
                "injected write failure",
            )));
            self.mark_unwritable(&err);
            return Err(err);
        }
        self.inner()
    }

    /// After a failed write: refuse writes until [`Store::recover`] succeeds.
    fn mark_unwritable(&self, err: &StoreError) {
        if matches!(err, StoreError::Unavailable { .. }) {
            return;
        }
        let reason = err.to_string();
        self.shared.health.send_if_modified(|health| {
            if health.is_none() {
                tracing::error!(path = %self.shared.path.display(), error = %reason, "the store cannot be written; refusing work until it can");
                *health = Some(reason.clone());
                true
            } else {
                false
            }
        });
    }

    fn noting<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(err) = &result {
            self.mark_unwritable(err);
        }
        result
    }

    /// Whether writes are accepted (the readiness of everything that records work).
    pub fn is_writable(&self) -> bool {
        self.shared.health.borrow().is_none()
    }

    /// Why writes are refused, while they are.
    pub fn unwritable_reason(&self) -> Option<String> {
        self.shared.health.borrow().clone()
    }

    /// Watches [`Store::unwritable_reason`].
    pub fn watch_health(&self) -> tokio::sync::watch::Receiver<Option<String>> {
        self.shared.health.subscribe()
    }

    /// Fault injection for tests and drills: while on, every write fails as on a
    /// disk that cannot be written; once off, [`Store::recover`] brings it back.
    pub fn fail_writes(&self, fail: bool) {
        self.shared.fail_writes.store(fail, Ordering::SeqCst);
    }

    /// Reopens the database after writes failed (sled refuses every write after an
    /// I/O error until reopened), checks it as at start, and accepts writes again.
    /// A store found damaged stays refused; its error says so.
    pub async fn recover(&self) -> Result<(), StoreError> {
        let _turn = self.shared.commit_turn.lock().await;
        if self.shared.fail_writes.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable {
                reason: "writes still fail (injected)".into(),
            });
        }
        let old = self
            .shared
            .inner
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
            .take();
        drop(old);
        let path = self.shared.path.clone();
        let cache_bytes = self.shared.cache_bytes;
        let opened = tokio::task::spawn_blocking(move || {
            // Readers may hold the old database for a moment; its file lock goes
            // with the last of them.
            let mut wait = Duration::from_millis(10);
            for _ in 0..10 {
                match Inner::open(&path, cache_bytes) {
                    Err(StoreError::InUse { .. }) => {
                        std::thread::sleep(wait);
                        wait = (wait * 2).min(Duration::from_millis(500));
                    }
                    other => return other,
                }
            }
            Inner::open(&path, cache_bytes)
        })
        .await
        .map_err(|err| StoreError::Unavailable {
            reason: format!("reopening the store failed: {err}"),
        })?;
        let inner = opened?;
        *self
            .shared
            .inner
            .write()
            .unwrap_or_else(|poison| poison.into_inner()) = Some(Arc::new(inner));
        self.shared.health.send_replace(None);
        tracing::info!(path = %self.shared.path.display(), "the store can be written again");
        Ok(())
    }

    /// Writes the batch atomically, then flushes it to disk and appends its audit
    /// entries to the audit log. Returns only once all of it is durable; only then
    /// may its effects run.
    pub async fn commit(
        &self,
        batch: Batch,
        now: DateTime<Utc>,
    ) -> Result<CommitOutcome, StoreError> {
        let _turn = self.shared.commit_turn.lock().await;
        let inner = self.writable()?;
        let result = self.commit_durably(&inner, &batch, now).await;
        let outcome = self.noting(result)?;
        if outcome == CommitOutcome::Committed {
            let commits = self.shared.commits.fetch_add(1, Ordering::Relaxed) + 1;
            if commits % self.shared.retention.every_commits.max(1) == 0 {
                if let Err(err) = retention::prune(&inner, &self.shared.retention, now) {
                    tracing::warn!(error = %err, "retention could not prune the store; will try again");
                }
            }
        }
        Ok(outcome)
    }

    async fn commit_durably(
        &self,
        inner: &Arc<Inner>,
        batch: &Batch,
        now: DateTime<Utc>,
    ) -> Result<CommitOutcome, StoreError> {
        let (outcome, audit_ids) = inner.commit_in_memory(batch, now)?;
        if outcome == CommitOutcome::AlreadySeen {
            return Ok(outcome);
        }
        inner.db.flush_async().await?;
        // From here the batch is durable: what fails below must not make the
        // caller tell anyone it was not done.
        if !audit_ids.is_empty() {
            let entries: Vec<(u64, AuditEntry)> = audit_ids
                .into_iter()
                .zip(batch.audit.iter().cloned())
                .collect();
            let log = inner.audit_log.clone();
            let store_id = inner.store_id.clone();
            let appended =
                tokio::task::spawn_blocking(move || lock(&log).append(&store_id, &entries))
                    .await
                    .map_err(|err| StoreError::Unavailable {
                        reason: format!("the audit log writer stopped: {err}"),
                    })
                    .and_then(|result| result.map_err(|err| io_error(err.to_string())));
            if let Err(err) = appended {
                // Its effects wait (the outbox is refused while the store is
                // unwritable) until reopening appends these entries from sled.
                tracing::error!(error = %err, "committed, but the audit log cannot be written; the commit's effects wait until it can");
                self.mark_unwritable(&err);
                return Ok(outcome);
            }
        }
        if let Err(err) = inner.write_record() {
            // A record behind sled is safe (it is only ever compared as a floor).
            tracing::warn!(error = %err, "cannot update the store's record; it stays behind until the next commit");
        }
        Ok(outcome)
    }

    /// Removes what retention no longer needs (see [`Retention`]). Commits call it
    /// every few hundred batches; the soak benchmark and tests call it directly.
    pub fn prune(&self, now: DateTime<Utc>) -> Result<Pruned, StoreError> {
        let inner = self.writable()?;
        let result = retention::prune(&inner, &self.shared.retention, now);
        self.noting(result)
    }

    /// Whether an event with this key was already handled.
    pub fn is_seen(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.inner()?.seen.contains_key(key.as_bytes())?)
    }

    /// Effects written but not yet performed, oldest first. Refused while the store
    /// cannot be written: an effect must not run before its commit is whole.
    pub fn pending_effects(&self) -> Result<Vec<PendingEffect>, StoreError> {
        if let Some(reason) = self.unwritable_reason() {
            return Err(StoreError::Unavailable { reason });
        }
        self.inner()?.pending_effects()
    }

    /// Notes, durably, that a once-effect is about to start (see [`Store::was_started`]).
    pub async fn mark_started(&self, id: u64, at: DateTime<Utc>) -> Result<(), StoreError> {
        let inner = self.writable()?;
        let result = async {
            inner.started.insert(id.to_be_bytes(), encode(&at))?;
            inner.db.flush_async().await?;
            Ok(())
        }
        .await;
        self.noting(result)
    }

    /// Whether a once-effect was started by an earlier process (its end is unknown).
    pub fn was_started(&self, id: u64) -> Result<bool, StoreError> {
        Ok(self.inner()?.started.contains_key(id.to_be_bytes())?)
    }

    /// Marks an effect done, remembering the message it posted (if any) under its key,
    /// in one transaction so a crash cannot leave the post done but unrecorded twice.
    pub async fn complete_effect(
        &self,
        id: u64,
        posted: Option<(&str, PostedMessage)>,
    ) -> Result<(), StoreError> {
        let inner = self.writable()?;
        let posted = posted.map(|(key, message)| (key.to_string(), encode(&message)));
        let result = async {
            let result = (&inner.outbox, &inner.posted, &inner.started).transaction(
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
            inner.db.flush_async().await?;
            Ok(())
        }
        .await;
        self.noting(result)
    }

    /// The message an earlier effect posted under this key, if any.
    pub fn posted(&self, key: &str) -> Result<Option<PostedMessage>, StoreError> {
        self.inner()?
            .posted
            .get(key.as_bytes())?
            .map(|value| decode("posted", key.as_bytes(), &value).map_err(StoreError::from))
            .transpose()
    }

    /// The newest `n` audit entries, oldest first. The store keeps the newest
    /// [`Retention::audit_keep`]; older ones are read from the audit log.
    pub fn audit_tail(&self, n: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let inner = self.inner()?;
        let mut entries = inner
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
        if entries.len() < n && inner.audit.len() >= self.shared.retention.audit_keep {
            // Older entries were archived: they live in the audit log only.
            let lines = audit_log::tail(&self.audit_log_path(), n)
                .map_err(|err| io_error(err.to_string()))?;
            return Ok(lines.iter().map(audit_log::AuditLine::entry).collect());
        }
        Ok(entries)
    }

    /// Audit entries recorded so far (the audit log's lines, archived ones included).
    pub fn audit_len(&self) -> usize {
        match self.inner() {
            Ok(inner) => lock(&inner.audit_log).lines() as usize,
            Err(_) => 0,
        }
    }

    /// One run, if the store has it.
    pub fn run(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        self.inner()?
            .runs
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
        self.inner()?
            .runs
            .iter()
            .map(|item| {
                let (key, value) = item?;
                Ok(decode::<StoredRun>("runs", &key, &value)?.run)
            })
            .collect()
    }

    /// The digest of the drift the watcher posted last for `stack`, if it ever posted.
    pub fn watch_digest(&self, stack: &str) -> Result<Option<String>, StoreError> {
        let inner = self.inner()?;
        Ok(inner
            .meta
            .get(watch_digest_key(stack))?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Environment locks currently held, by environment name.
    pub fn locks(&self) -> Result<Vec<(String, EnvLock)>, StoreError> {
        self.inner()?
            .locks
            .iter()
            .map(|item| {
                let (key, value) = item?;
                let env = String::from_utf8_lossy(&key).into_owned();
                Ok((env, decode("locks", &key, &value)?))
            })
            .collect()
    }

    /// How big the store and its audit log are.
    pub fn size(&self) -> Result<StoreSize, StoreError> {
        let inner = self.inner()?;
        Ok(StoreSize {
            bytes_on_disk: inner.db.size_on_disk()?,
            audit_log_bytes: std::fs::metadata(self.audit_log_path())
                .map(|meta| meta.len())
                .unwrap_or(0),
            runs: inner.runs.len(),
            outbox: inner.outbox.len(),
            seen: inner.seen.len(),
            posted: inner.posted.len(),
            audit: inner.audit.len(),
        })
    }

    /// Commits made in this store so far.
    pub fn generation(&self) -> u64 {
        self.inner()
            .map(|inner| inner.generation.load(Ordering::SeqCst))
            .unwrap_or(0)
    }
}

fn io_error(text: String) -> StoreError {
    StoreError::Io(sled::Error::Io(std::io::Error::other(text)))
}

impl Inner {
    fn open(path: &Path, cache_bytes: u64) -> Result<Inner, StoreError> {
        check_path(path)?;
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .open()
            .map_err(|err| classify_open_error(path, err))?;
        let tree = |name: &str| {
            db.open_tree(name)
                .map_err(|err| classify_open_error(path, err))
        };
        let trees: Vec<sled::Tree> = TREES
            .iter()
            .map(|name| tree(name))
            .collect::<Result<_, _>>()?;
        let [runs, outbox, seen, locks, audit, posted, started, meta, retired]: [sled::Tree; 9] =
            trees
                .try_into()
                .unwrap_or_else(|_| unreachable!("one tree per name"));
        check_schema(path, &db)?;
        let log_path = audit_log::log_path(path);
        let (log, scan) = AuditLog::open(&log_path).map_err(|err| match err {
            audit_log::LogError::Broken(broken) => StoreError::AuditLog {
                path: path.to_path_buf(),
                found: broken.to_string(),
            },
            audit_log::LogError::Io { source, .. } => classify_io(path, &log_path, source),
        })?;
        let mut opened = Opened {
            path,
            db: &db,
            meta: &meta,
            audit: &audit,
            log,
            scan,
        };
        let (store_id, generation) = opened.identity()?;
        let log = opened.catch_up(&store_id)?;
        let inner = Inner {
            record: Mutex::new(RecordFile::open(path).map_err(|err| classify_io(path, path, err))?),
            audit_log: Arc::new(Mutex::new(log)),
            db,
            runs,
            outbox,
            seen,
            locks,
            audit,
            posted,
            started,
            meta,
            retired,
            store_id,
            generation: AtomicU64::new(generation),
        };
        inner.verify_all_records(path)?;
        let record = inner.current_record();
        lock(&inner.record)
            .reset(&record)
            .map_err(|err| classify_io(path, path, err))?;
        Ok(inner)
    }

    fn current_record(&self) -> Record {
        let log = lock(&self.audit_log);
        Record {
            store_id: self.store_id.clone(),
            generation: self.generation.load(Ordering::SeqCst),
            audit_lines: log.lines(),
            audit_head: log.head().to_string(),
        }
    }

    fn write_record(&self) -> std::io::Result<()> {
        let record = self.current_record();
        lock(&self.record).write(&record)
    }

    fn verify_all_records(&self, path: &Path) -> Result<(), StoreError> {
        let corrupt = |corrupt| StoreError::Corrupt {
            path: path.to_path_buf(),
            corrupt,
        };
        self.verify_runs(path)?;
        verify_tree::<Effect>(&self.outbox, "outbox").map_err(corrupt)?;
        verify_tree::<DateTime<Utc>>(&self.seen, "seen").map_err(corrupt)?;
        verify_tree::<EnvLock>(&self.locks, "locks").map_err(corrupt)?;
        verify_tree::<AuditEntry>(&self.audit, "audit").map_err(corrupt)?;
        verify_tree::<PostedMessage>(&self.posted, "posted").map_err(corrupt)?;
        verify_tree::<DateTime<Utc>>(&self.started, "started").map_err(corrupt)?;
        verify_tree::<DateTime<Utc>>(&self.retired, "retired").map_err(corrupt)?;
        Ok(())
    }

    /// Every run must be of a format this build knows, and readable in it.
    fn verify_runs(&self, path: &Path) -> Result<(), StoreError> {
        for item in self.runs.iter() {
            let (key, value) = item?;
            let id = String::from_utf8_lossy(&key).into_owned();
            let format = serde_json::from_slice::<RunFormat>(&value)
                .map(|f| f.format)
                .unwrap_or(0);
            if format > RUN_FORMAT {
                return Err(StoreError::RunTooNew {
                    path: path.to_path_buf(),
                    run: id,
                    found: format,
                });
            }
            decode::<StoredRun>("runs", &key, &value).map_err(|corrupt| StoreError::Corrupt {
                path: path.to_path_buf(),
                corrupt,
            })?;
        }
        Ok(())
    }

    fn pending_effects(&self) -> Result<Vec<PendingEffect>, StoreError> {
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

    /// The transaction of a commit; returns the audit ids it used.
    fn commit_in_memory(
        &self,
        batch: &Batch,
        now: DateTime<Utc>,
    ) -> Result<(CommitOutcome, Vec<u64>), StoreError> {
        // Ids are taken before the transaction: sled may re-run the closure on conflict,
        // and ids must not change between attempts. Gaps in the sequence are harmless.
        let effect_ids = (0..batch.effects.len())
            .map(|_| self.db.generate_id())
            .collect::<Result<Vec<_>, _>>()?;
        let audit_ids = (0..batch.audit.len())
            .map(|_| self.db.generate_id())
            .collect::<Result<Vec<_>, _>>()?;
        let seen_at = encode(&now);
        let generation = self.generation.load(Ordering::SeqCst) + 1;

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
        // Runs that ended: their posted messages may go once retention's grace is over.
        let retiring: Vec<&RunId> = batch
            .runs
            .iter()
            .filter(|(_, run)| run.as_ref().is_none_or(Run::is_finished))
            .map(|(id, _)| id)
            .collect();
        let result = (
            &self.seen,
            &self.runs,
            &self.outbox,
            &self.audit,
            &self.locks,
            &self.started,
            &self.meta,
            &self.retired,
        )
            .transaction(
                |(seen, runs, outbox, audit, locks, started, meta, retired)| {
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
                    for run_id in &retiring {
                        retired.insert(run_id.0.as_bytes(), seen_at.clone())?;
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
                    if let Some((stack, digest)) = &batch.watch_digest {
                        meta.insert(watch_digest_key(stack).as_bytes(), digest.as_bytes())?;
                    }
                    meta.insert(META_GENERATION, &generation.to_be_bytes())?;
                    Ok::<_, ConflictableTransactionError<()>>(CommitOutcome::Committed)
                },
            );
        match result {
            Ok(CommitOutcome::Committed) => {
                self.generation.store(generation, Ordering::SeqCst);
                Ok((CommitOutcome::Committed, audit_ids))
            }
            Ok(CommitOutcome::AlreadySeen) => Ok((CommitOutcome::AlreadySeen, Vec::new())),
            Err(TransactionError::Storage(err)) => Err(StoreError::Io(err)),
            Err(TransactionError::Abort(())) => unreachable!("the transaction never aborts"),
        }
    }
}

/// The checks of an opening store that compare sled with what is kept beside it.
struct Opened<'a> {
    path: &'a Path,
    db: &'a sled::Db,
    meta: &'a sled::Tree,
    audit: &'a sled::Tree,
    log: AuditLog,
    scan: audit_log::Scan,
}

impl Opened<'_> {
    fn damaged(&self, found: String) -> StoreError {
        StoreError::Damaged {
            path: self.path.to_path_buf(),
            found,
        }
    }

    fn meta_u64(&self, key: &str) -> Result<Option<u64>, StoreError> {
        match self.meta.get(key)? {
            None => Ok(None),
            Some(bytes) => <[u8; 8]>::try_from(bytes.as_ref())
                .map(|b| Some(u64::from_be_bytes(b)))
                .map_err(|_| StoreError::Corrupt {
                    path: self.path.to_path_buf(),
                    corrupt: Corrupt::new("meta", key, "not an 8-byte number"),
                }),
        }
    }

    /// The store's id and generation, compared with its record: sled must hold at
    /// least every commit the record counts.
    fn identity(&mut self) -> Result<(String, u64), StoreError> {
        let sled_id = self
            .meta
            .get(META_STORE_ID)?
            .map(|id| String::from_utf8_lossy(&id).into_owned());
        let sled_generation = self.meta_u64(META_GENERATION)?.unwrap_or(0);
        let reading =
            record::read(self.path).map_err(|err| classify_io(self.path, self.path, err))?;
        let record_path = record::path_in(self.path);
        match (sled_id, reading) {
            (Some(id), Reading::Found(record)) => {
                if record.store_id != id {
                    return Err(self.damaged(format!(
                        "its data belongs to store {id}, but its record ({}) to store {}: the `db` file was replaced by another store's",
                        record_path.display(),
                        record.store_id
                    )));
                }
                if sled_generation < record.generation {
                    return Err(self.damaged(format!(
                        "sled's data ends at commit {sled_generation}, but the store made {} (its record, {}, says so): the last {} commits were lost, so the `db` file was truncated or overwritten",
                        record.generation,
                        record_path.display(),
                        record.generation - sled_generation
                    )));
                }
                self.check_log_end(&record)?;
                Ok((id, sled_generation))
            }
            (Some(id), Reading::Missing) => {
                tracing::warn!(record = %record_path.display(), "the store's record is missing; writing a new one from the data (damage before now cannot be ruled out)");
                Ok((id, sled_generation))
            }
            (_, Reading::Unreadable) => Err(self.damaged(format!(
                "its record {} cannot be read (both copies fail their checksum). If you know the data is intact, delete that file and start again",
                record_path.display()
            ))),
            (None, Reading::Found(record)) if record.generation > 0 => {
                Err(self.damaged(format!(
                    "sled's data holds nothing of store {}, which made {} commits (its record, {}, says so): the `db` file was deleted, emptied or damaged beyond what sled can read",
                    record.store_id,
                    record.generation,
                    record_path.display()
                )))
            }
            (None, _) => {
                // A new store, or one from before records were kept: a store with
                // data counts as one commit, so losing it all later is noticed.
                let id = format!("{:016x}", rand::random::<u64>());
                let generation = sled_generation.max(u64::from(self.db.was_recovered()));
                self.meta.insert(META_STORE_ID, id.as_bytes())?;
                self.meta
                    .insert(META_GENERATION, &generation.to_be_bytes())?;
                self.db.flush()?;
                Ok((id, generation))
            }
        }
    }

    /// The audit log must reach the line the record names.
    fn check_log_end(&self, record: &Record) -> Result<(), StoreError> {
        if record.audit_lines == 0 {
            return Ok(());
        }
        let expected = audit_log::Expected {
            lines: record.audit_lines,
            head: record.audit_head.clone(),
        };
        let log_path = audit_log::log_path(self.path);
        match audit_log::verify(&log_path, Some(&expected)) {
            Ok(audit_log::Verdict::Intact { .. }) => Ok(()),
            Ok(audit_log::Verdict::Broken(found)) => Err(StoreError::AuditLog {
                path: self.path.to_path_buf(),
                found,
            }),
            Err(err) => Err(StoreError::AuditLog {
                path: self.path.to_path_buf(),
                found: format!("{} cannot be read: {err}", log_path.display()),
            }),
        }
    }

    /// Appends to the log the entries sled committed that it lacks (a crash between
    /// the two), after checking that sled did not lose entries the log has.
    fn catch_up(self, store_id: &str) -> Result<AuditLog, StoreError> {
        let logged = self.scan.last_id.get(store_id).copied().unwrap_or(0);
        let newest = match self.audit.last()? {
            Some((key, _)) => u64_key(&key, "audit").map_err(|corrupt| StoreError::Corrupt {
                path: self.path.to_path_buf(),
                corrupt,
            })?,
            None => 0,
        };
        if logged > newest {
            return Err(self.damaged(format!(
                "its audit entries end before entry {logged}, which the audit log beside it holds: audit entries were lost from sled's data"
            )));
        }
        let corrupt = |corrupt| StoreError::Corrupt {
            path: self.path.to_path_buf(),
            corrupt,
        };
        let mut missing = Vec::new();
        for item in self.audit.range(logged.saturating_add(1).to_be_bytes()..) {
            let (key, value) = item?;
            missing.push((
                u64_key(&key, "audit").map_err(corrupt)?,
                decode::<AuditEntry>("audit", &key, &value).map_err(corrupt)?,
            ));
        }
        let mut log = self.log;
        if !missing.is_empty() {
            tracing::warn!(
                entries = missing.len(),
                "appending audit entries the store committed but the audit log lacks (a stop between the two)"
            );
            log.append(store_id, &missing)
                .map_err(|err| io_error(err.to_string()))?;
        }
        Ok(log)
    }
}

fn check_schema(path: &Path, db: &sled::Db) -> Result<(), StoreError> {
    match db.get("schema_version")? {
        None => {
            db.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
            db.flush()?;
            Ok(())
        }
        Some(bytes) => {
            let found = <[u8; 8]>::try_from(bytes.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Corrupt {
                    path: path.to_path_buf(),
                    corrupt: Corrupt::new("meta", "schema_version", "not an 8-byte number"),
                })?;
            if found > SCHEMA_VERSION {
                Err(StoreError::TooNew {
                    path: path.to_path_buf(),
                    found,
                })
            } else {
                Ok(())
            }
        }
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

/// Before sled creates anything: the path must be a folder or not exist yet, and
/// its nearest existing ancestor must be a folder.
fn check_path(path: &Path) -> Result<(), StoreError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(_) => {
            return Err(StoreError::UnderAFile {
                path: path.to_path_buf(),
                file: path.to_path_buf(),
            })
        }
        Err(_) => {}
    }
    let mut ancestor = path.parent();
    while let Some(dir) = ancestor.filter(|dir| !dir.as_os_str().is_empty()) {
        if let Ok(meta) = std::fs::metadata(dir) {
            if !meta.is_dir() {
                return Err(StoreError::UnderAFile {
                    path: path.to_path_buf(),
                    file: dir.to_path_buf(),
                });
            }
            return Ok(());
        }
        ancestor = dir.parent();
    }
    Ok(())
}

/// The cause of an I/O failure on `what` (the store folder or a file beside it),
/// with advice that fits it.
fn classify_io(path: &Path, what: &Path, err: std::io::Error) -> StoreError {
    use std::io::ErrorKind;
    let detail = format!("{}: {err}", what.display());
    match err.kind() {
        ErrorKind::PermissionDenied => StoreError::NotWritable {
            path: path.to_path_buf(),
            detail,
        },
        ErrorKind::ReadOnlyFilesystem => StoreError::ReadOnly {
            path: path.to_path_buf(),
        },
        ErrorKind::NotADirectory => StoreError::UnderAFile {
            path: path.to_path_buf(),
            file: what.to_path_buf(),
        },
        ErrorKind::WouldBlock => StoreError::InUse {
            path: path.to_path_buf(),
        },
        _ => StoreError::Unreadable {
            path: path.to_path_buf(),
            detail,
        },
    }
}

fn classify_open_error(path: &Path, err: sled::Error) -> StoreError {
    let text = err.to_string();
    if text.contains("could not acquire lock") {
        return StoreError::InUse {
            path: path.to_path_buf(),
        };
    }
    match err {
        sled::Error::Io(io) => classify_io(path, path, io),
        sled::Error::Corruption { .. } => StoreError::Damaged {
            path: path.to_path_buf(),
            found: format!("sled found its files corrupt ({text})"),
        },
        other => StoreError::Unreadable {
            path: path.to_path_buf(),
            detail: other.to_string(),
        },
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
    async fn the_watch_digest_is_written_with_its_post_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(store.watch_digest("").unwrap(), None);
            let batch = || Batch {
                dedup_key: Some("watch:2026-11-24T03:30:00+00:00".into()),
                effects: vec![reply_effect("drift")],
                watch_digest: Some((String::new(), "abc".into())),
                ..Batch::default()
            };
            store.commit(batch(), Utc::now()).await.unwrap();
            assert_eq!(store.watch_digest("").unwrap().as_deref(), Some("abc"));
            // Another batch without a digest leaves it alone.
            store.commit(Batch::default(), Utc::now()).await.unwrap();
            assert_eq!(store.watch_digest("").unwrap().as_deref(), Some("abc"));
        }
        let reopened = Store::open(dir.path()).unwrap();
        assert_eq!(reopened.watch_digest("").unwrap().as_deref(), Some("abc"));
        assert_eq!(reopened.watch_digest("hr").unwrap(), None, "per stack");
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
            let inner = store.inner().unwrap();
            inner
                .audit
                .insert(7u64.to_be_bytes(), b"{not json".to_vec())
                .unwrap();
            inner.db.flush().unwrap();
        }
        let err = Store::open(dir.path()).err().expect("damage is reported");
        let text = err.to_string();
        assert!(text.contains("damaged"), "{text}");
        assert!(text.contains("audit"), "{text}");
        assert!(text.contains("move it aside"), "{text}");
    }

    /// Four commands' worth of commits, each with one audit entry; then closed.
    async fn four_commands(path: &Path) {
        let store = Store::open(path).unwrap();
        for n in 0..4 {
            let batch = Batch {
                dedup_key: Some(format!("trigger:{n}")),
                effects: vec![reply_effect("hello")],
                audit: vec![audit(&format!("command {n}"))],
                ..Batch::default()
            };
            store.commit(batch, Utc::now()).await.unwrap();
        }
        assert_eq!(store.generation(), 4);
    }

    fn db_file(path: &Path) -> PathBuf {
        path.join("db")
    }

    fn refused(path: &Path) -> String {
        match Store::open(path) {
            Ok(store) => panic!(
                "a damaged store opened without a word, with {} of its 4 audit entries",
                store.audit_tail(10).unwrap().len()
            ),
            Err(err) => err.to_string(),
        }
    }

    #[tokio::test]
    async fn a_db_file_truncated_to_nothing_is_refused_with_what_was_found() {
        let dir = tempfile::tempdir().unwrap();
        four_commands(dir.path()).await;
        std::fs::File::options()
            .write(true)
            .open(db_file(dir.path()))
            .unwrap()
            .set_len(0)
            .unwrap();
        let text = refused(dir.path());
        assert!(text.contains("damaged"), "{text}");
        assert!(text.contains("4 commits"), "{text}");
        assert!(
            text.contains("Restore the store folder from a backup"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_db_file_truncated_to_half_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        four_commands(dir.path()).await;
        let len = std::fs::metadata(db_file(dir.path())).unwrap().len();
        std::fs::File::options()
            .write(true)
            .open(db_file(dir.path()))
            .unwrap()
            .set_len(len / 2)
            .unwrap();
        let text = refused(dir.path());
        assert!(text.contains("damaged"), "{text}");
    }

    #[tokio::test]
    async fn a_db_file_with_flipped_bytes_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        four_commands(dir.path()).await;
        let mut bytes = std::fs::read(db_file(dir.path())).unwrap();
        let middle = bytes.len() / 2;
        for byte in &mut bytes[middle..middle + 64] {
            *byte ^= 0xff;
        }
        std::fs::write(db_file(dir.path()), &bytes).unwrap();
        let text = refused(dir.path());
        assert!(text.contains("damaged"), "{text}");
    }

    #[tokio::test]
    async fn a_deleted_db_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        four_commands(dir.path()).await;
        std::fs::remove_file(db_file(dir.path())).unwrap();
        let text = refused(dir.path());
        assert!(text.contains("deleted, emptied or damaged"), "{text}");
        assert!(text.contains("4 commits"), "{text}");
    }

    #[tokio::test]
    async fn a_store_moved_aside_starts_empty_and_the_audit_log_keeps_its_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        four_commands(&path).await;
        std::fs::rename(&path, dir.path().join("store.damaged")).unwrap();
        let store = Store::open(&path).unwrap();
        assert_eq!(store.generation(), 0);
        assert_eq!(store.audit_len(), 4, "the audit log outlives the folder");
        let verdict = audit_log::verify(&store.audit_log_path(), None).unwrap();
        assert!(
            matches!(verdict, audit_log::Verdict::Intact { lines: 4, .. }),
            "{verdict:?}"
        );
    }

    #[tokio::test]
    async fn audit_entries_committed_but_not_logged_are_appended_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        four_commands(&path).await;
        // A stop between sled's flush and the log's append: the log lost its end,
        // and the record (written after both) still says 3 lines.
        let log = audit_log::log_path(&path);
        let text = std::fs::read_to_string(&log).unwrap();
        let kept: Vec<&str> = text.lines().take(3).collect();
        std::fs::write(&log, kept.join("\n") + "\n").unwrap();
        let mut file = record::RecordFile::open(&path).unwrap();
        let record::Reading::Found(mut rec) = record::read(&path).unwrap() else {
            panic!("a record")
        };
        rec.audit_lines = 3;
        rec.audit_head = audit_log::hash_line(kept[2].as_bytes());
        file.reset(&rec).unwrap();

        let store = Store::open(&path).unwrap();
        assert_eq!(store.audit_len(), 4);
        assert!(matches!(
            audit_log::verify(&store.audit_log_path(), None).unwrap(),
            audit_log::Verdict::Intact { lines: 4, .. }
        ));
    }

    #[tokio::test]
    async fn an_audit_log_cut_at_the_end_is_refused_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        four_commands(&path).await;
        let log = audit_log::log_path(&path);
        let text = std::fs::read_to_string(&log).unwrap();
        let kept: Vec<&str> = text.lines().take(2).collect();
        std::fs::write(&log, kept.join("\n") + "\n").unwrap();
        let err = Store::open(&path).err().expect("refused").to_string();
        assert!(err.contains("the last 2 were removed"), "{err}");
        assert!(err.contains("lockstep audit verify"), "{err}");
    }

    #[tokio::test]
    async fn a_failed_write_refuses_writes_and_the_outbox_until_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.fail_writes(true);
        let batch = || Batch {
            dedup_key: Some("trigger:1".into()),
            effects: vec![reply_effect("hello")],
            audit: vec![audit("status")],
            ..Batch::default()
        };
        assert!(store.commit(batch(), Utc::now()).await.is_err());
        assert!(!store.is_writable());
        assert!(store.pending_effects().is_err(), "nothing runs meanwhile");
        assert!(store.recover().await.is_err(), "the disk still fails");

        store.fail_writes(false);
        let err = store.commit(batch(), Utc::now()).await.unwrap_err();
        assert!(err.to_string().contains("cannot be written"), "{err}");
        store.recover().await.unwrap();
        assert!(store.is_writable());
        assert_eq!(
            store.commit(batch(), Utc::now()).await.unwrap(),
            CommitOutcome::Committed,
            "the failed commit left nothing behind"
        );
        assert_eq!(store.pending_effects().unwrap().len(), 1);
        assert_eq!(store.audit_len(), 1);
    }

    #[tokio::test]
    async fn retention_forgets_old_dedup_keys_and_posts_of_finished_runs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with(
            dir.path(),
            Retention {
                audit_keep: 3,
                every_commits: u64::MAX,
                ..Retention::default()
            },
        )
        .unwrap();
        let start: DateTime<Utc> = "2026-11-25T09:00:00Z".parse().unwrap();
        for n in 0..5i64 {
            let at = start + chrono::Duration::minutes(n * 30);
            let run_id = RunId(format!("run-{n}"));
            let batch = Batch {
                dedup_key: Some(format!("trigger:{n}")),
                runs: vec![(run_id.clone(), None)],
                audit: vec![audit(&format!("a{n}"))],
                ..Batch::default()
            };
            store.commit(batch, at).await.unwrap();
            let posted = PostedMessage {
                channel: "C0DEPLOY".into(),
                ts: format!("{n}.0"),
            };
            let inner = store.inner().unwrap();
            inner
                .posted
                .insert(format!("run-{n}/message"), encode(&posted))
                .unwrap();
            inner
                .posted
                .insert(format!("command/{n}/reply"), encode(&posted))
                .unwrap();
        }
        // run-1 is still on record (a finished promotion a release will answer in
        // the thread of): its root message stays.
        store
            .inner()
            .unwrap()
            .runs
            .insert("run-1", b"kept".to_vec())
            .unwrap();
        let now = start + chrono::Duration::minutes(150);
        let pruned = store.prune(now).unwrap();
        // Keys older than an hour: those of minutes 0, 30, 60 (not 90 or 120).
        assert_eq!(pruned.seen, 3, "{pruned:?}");
        assert_eq!(pruned.posted, 5, "{pruned:?}");
        assert!(store.posted("run-1/message").unwrap().is_some());
        assert_eq!(pruned.audit, 2, "{pruned:?}");
        assert!(!store.is_seen("trigger:0").unwrap());
        assert!(store.is_seen("trigger:4").unwrap());
        assert_eq!(store.posted("run-0/message").unwrap(), None);
        assert!(store.posted("run-4/message").unwrap().is_some());
        let size = store.size().unwrap();
        assert_eq!((size.seen, size.posted, size.audit), (2, 5, 3));
        // `audit 5` still shows five: the older ones come from the audit log.
        let details: Vec<String> = store
            .audit_tail(5)
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(details, ["a0", "a1", "a2", "a3", "a4"]);
    }

    #[test]
    fn the_advice_fits_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let err = Store::open(&file.join("store")).err().unwrap().to_string();
        assert!(err.contains("is a file, not a folder"), "{err}");
        assert!(!err.contains("backup"), "{err}");
        let err = Store::open(&file).err().unwrap().to_string();
        assert!(err.contains("is a file, not a folder"), "{err}");
    }

    #[tokio::test]
    async fn a_commit_whose_audit_log_cannot_be_written_waits_for_it_and_is_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let store = Store::open(&path).unwrap();
        // The log is read-only from now on (as a full disk would leave it).
        {
            let inner = store.inner().unwrap();
            let mut log = lock(&inner.audit_log);
            let read_only = std::fs::File::open(audit_log::log_path(&path)).unwrap();
            log.replace_file_for_test(read_only);
        }
        let batch = Batch {
            dedup_key: Some("trigger:1".into()),
            effects: vec![reply_effect("hello")],
            audit: vec![audit("diff")],
            ..Batch::default()
        };
        assert_eq!(
            store.commit(batch, Utc::now()).await.unwrap(),
            CommitOutcome::Committed,
            "the batch is durable in sled: not reported as not done"
        );
        assert!(!store.is_writable());
        assert!(
            store.pending_effects().is_err(),
            "its effects wait for the log"
        );
        store.recover().await.unwrap();
        assert_eq!(store.pending_effects().unwrap().len(), 1);
        assert_eq!(store.audit_len(), 1, "reopening appended the entry");
        assert!(matches!(
            audit_log::verify(&store.audit_log_path(), None).unwrap(),
            audit_log::Verdict::Intact { lines: 1, .. }
        ));
    }
}
