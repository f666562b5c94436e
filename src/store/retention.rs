//! Retention: what the store may forget, and when, so it does not grow with every
//! command. Runs in flight, finished promotions (history for `status`, `ship` and
//! the figures), locks and the outbox are never pruned here.
//!
//! - `seen`: an event's dedup key is needed only while Slack may redeliver the
//!   event (its retries come within minutes); kept [`Retention::seen`]. A command's
//!   channel reply (`command/<trigger>/reply` in `posted`) goes with its key.
//! - `posted`: a run's messages are edited only while the run lives and its last
//!   effects are performed; once it ended [`Retention::posted_grace`] ago and has
//!   nothing left in the outbox, its entries go, all but the root message of a run
//!   still on record (a later run may answer in its thread).
//! - `audit`: the newest [`Retention::audit_keep`] entries stay in the store for
//!   `audit N`; every entry is in the audit log beside the store, which is kept whole.

use super::codec::decode;
use super::{u64_key, Inner, StoreError};
use crate::workflow::effect::Effect;
use chrono::{DateTime, Utc};
use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// How long an event's dedup key is kept (Slack retries within minutes).
    pub seen: chrono::Duration,
    /// How long a finished run's posted-message keys are kept.
    pub posted_grace: chrono::Duration,
    /// Audit entries kept in the store; older ones live in the audit log only.
    pub audit_keep: usize,
    /// Commits between two automatic prunes.
    pub every_commits: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            seen: chrono::Duration::hours(1),
            posted_grace: chrono::Duration::hours(1),
            audit_keep: 10_000,
            every_commits: 256,
        }
    }
}

/// What one prune removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pruned {
    pub seen: usize,
    pub posted: usize,
    pub audit: usize,
}

pub(super) fn prune(
    inner: &Inner,
    retention: &Retention,
    now: DateTime<Utc>,
) -> Result<Pruned, StoreError> {
    let mut pruned = Pruned::default();

    let seen_cutoff = now - retention.seen;
    let mut seen = sled::Batch::default();
    let mut posted = sled::Batch::default();
    for item in inner.seen.iter() {
        let (key, value) = item?;
        let at: DateTime<Utc> = decode("seen", &key, &value)?;
        if at < seen_cutoff {
            seen.remove(key.clone());
            if let Some(trigger) = key.strip_prefix(b"trigger:") {
                let mut reply = b"command/".to_vec();
                reply.extend_from_slice(trigger);
                reply.extend_from_slice(b"/reply");
                if inner.posted.contains_key(&reply)? {
                    posted.remove(reply);
                    pruned.posted += 1;
                }
            }
            pruned.seen += 1;
        }
    }

    // Runs with effects still to perform keep their messages, however old.
    let mut busy: HashSet<String> = HashSet::new();
    for pending in inner.pending_effects()? {
        let key = match &pending.effect {
            Effect::Work(work) => {
                busy.insert(work.run_id.0.clone());
                continue;
            }
            other => other.key().map(str::to_string),
        };
        if let Some(run) = key.as_deref().and_then(|key| key.split('/').next()) {
            busy.insert(run.to_string());
        }
    }
    let grace_cutoff = now - retention.posted_grace;
    let mut retired = sled::Batch::default();
    for item in inner.retired.iter() {
        let (key, value) = item?;
        let ended: DateTime<Utc> = decode("retired", &key, &value)?;
        let run = String::from_utf8_lossy(&key).into_owned();
        if ended >= grace_cutoff || busy.contains(&run) {
            continue;
        }
        // A run still on record keeps its root message: a later run may answer in
        // its thread (a release's line in the promotion it ships).
        let root = inner
            .runs
            .contains_key(run.as_bytes())?
            .then(|| format!("{run}/message"));
        for posted_item in inner.posted.scan_prefix(format!("{run}/")) {
            let (posted_key, _) = posted_item?;
            if root.as_deref().map(str::as_bytes) == Some(&posted_key[..]) {
                continue;
            }
            posted.remove(posted_key);
            pruned.posted += 1;
        }
        retired.remove(key);
    }

    let keep = retention.audit_keep.max(1);
    let excess = inner.audit.len().saturating_sub(keep);
    let mut audit = sled::Batch::default();
    if excess > 0 {
        let logged = {
            let log = super::lock(&inner.audit_log);
            log.lines()
        };
        // Only entries already in the audit log may leave the store (every commit
        // appends before it returns; this is a guard, not a step).
        if logged > 0 {
            for item in inner.audit.iter().take(excess) {
                let (key, _) = item?;
                u64_key(&key, "audit")?;
                audit.remove(key);
                pruned.audit += 1;
            }
        }
    }

    inner.seen.apply_batch(seen)?;
    inner.posted.apply_batch(posted)?;
    inner.retired.apply_batch(retired)?;
    inner.audit.apply_batch(audit)?;
    Ok(pruned)
}
