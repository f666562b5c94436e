//! The drift watcher (`[watch] schedule`): on a cron schedule read in
//! `freeze.timezone`, it reads the drift of both sites against their branches (as
//! `diff` does) and posts to `[watch] channel` only when the drift differs from
//! what it posted last. The digest of the last posted drift lives in the store and
//! is written in the same transaction as the post, so a restart neither forgets a
//! post nor repeats one; with no digest yet, "no drift" is what was last said, so a
//! clean start is quiet. It owns the schedule and the comparison; reading goes
//! through the `diff` command's readers and posting through the outbox.

use crate::adapters::{Adapters, Tracked};
use crate::blueprint::render::{plural, RenderOptions};
use crate::blueprint::Drift;
use crate::clock::Clock;
use crate::command::SiteSel;
use crate::config::{Config, WatchSection};
use crate::store::{Batch, Store};
use crate::workflow::effect::{Block, Effect, Message, Post};
use crate::workflow::executor::Executor;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::sync::Arc;
use tokio::sync::watch;

/// The next time `schedule` fires strictly after `after`, read in `zone`.
pub fn next_run(schedule: &croner::Cron, zone: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    schedule
        .find_next_occurrence(&after.with_timezone(&zone), false)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// One site's drift against its branch, as the watcher saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteDrift {
    pub site: String,
    pub branch: String,
    pub site_url: String,
    pub drift: Drift,
}

/// What identifies a drift whatever the branches' heads: the sites, their
/// branches and every difference (sorted, so the same drift gives the same digest).
pub fn digest(drifts: &[SiteDrift]) -> String {
    use sha1::{Digest, Sha1};
    let mut hasher = Sha1::new();
    for site in drifts {
        hasher.update(site.site.as_bytes());
        hasher.update([0]);
        hasher.update(site.branch.as_bytes());
        hasher.update([0]);
        hasher.update(serde_json::to_vec(&site.drift).unwrap_or_default());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

/// The digest the watcher starts from: every site clean.
pub fn clean_digest(drifts: &[SiteDrift]) -> String {
    let clean: Vec<SiteDrift> = drifts
        .iter()
        .map(|site| SiteDrift {
            drift: Drift::default(),
            ..site.clone()
        })
        .collect();
    digest(&clean)
}

/// The post: a headline naming each site's count, then each drifting site's report.
pub fn message(drifts: &[SiteDrift], schedule: &str, zone: Tz) -> Message {
    let counts: Vec<String> = drifts
        .iter()
        .map(|site| match site.drift.len() {
            0 => format!("none on `{}`", site.site),
            n => format!("{} on `{}`", plural(n, "difference"), site.site),
        })
        .collect();
    let drifting = drifts.iter().any(|site| !site.drift.is_empty());
    let headline = if drifting {
        format!(
            ":mag: *Drift watch* (`{schedule}`, {zone}): the drift changed since the last post: {}. Resolve it before the next promote.",
            counts.join(", ")
        )
    } else {
        format!(
            ":white_check_mark: *Drift watch* (`{schedule}`, {zone}): no drift any more; every site matches its branch."
        )
    };
    let mut blocks = vec![Block::Section(headline.clone())];
    for site in drifts.iter().filter(|site| !site.drift.is_empty()) {
        let options = RenderOptions::new(site.site_url.clone(), site.branch.clone());
        blocks.push(Block::Code(site.drift.render(&options)));
    }
    Message {
        text: headline,
        blocks,
    }
}

/// Reads one site against its branch, as `diff` does (streamed, held as digests).
async fn read(tracked: Tracked<'_>) -> anyhow::Result<SiteDrift> {
    let failure = |failure| anyhow::anyhow!("{failure:?}");
    let branch = crate::commands::diff::index_branch(tracked)
        .await
        .map_err(failure)?;
    let drift = crate::commands::diff::site_drift(tracked, Some(&branch), |_, _| {})
        .await
        .map_err(failure)?;
    Ok(SiteDrift {
        site: tracked.site_name().to_string(),
        branch: branch.name,
        site_url: tracked.site_url(),
        drift,
    })
}

/// The watcher's task, one per stack: sleeps until the next scheduled time (by the
/// bot's clock), checks the stack's two sites, and again.
pub struct Watcher {
    /// The stack watched ("" for a single stack); its digest is kept apart.
    pub stack: String,
    pub config: Arc<Config>,
    pub section: WatchSection,
    pub store: Store,
    pub adapters: Arc<Adapters>,
    pub clock: Clock,
    pub executor: Executor,
    /// When the bot started: the first check is the schedule's first time after it.
    pub started_at: DateTime<Utc>,
    /// Counts finished checks (posted or not, every stack's), for tests and `status`.
    pub checks: Arc<watch::Sender<u64>>,
}

impl Watcher {
    /// Runs until `shutdown` resolves.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let Ok(schedule) = self.section.cron() else {
            return; // Checked at load; nothing to run.
        };
        let zone = self.config.file.freeze.timezone;
        let work = async {
            let mut after = self.started_at;
            loop {
                let Some(at) = next_run(&schedule, zone, after) else {
                    tracing::warn!(schedule = %self.section.schedule, "the drift watch schedule never fires again");
                    return;
                };
                self.wait_until(at).await;
                if let Err(err) = self.check(at).await {
                    tracing::warn!(error = %err, "the drift watch could not read the drift; it tries again at the next scheduled time");
                }
                // Slots missed while a check ran (or the host slept) are not made up
                // one by one: the next is the first after now. Settled before the
                // check is counted, so whoever waits on the count sees the same.
                after = self.clock.now().max(at);
                self.checks.send_modify(|n| *n += 1);
            }
        };
        tokio::select! {
            _ = shutdown => {}
            _ = work => {}
        }
    }

    /// Waits until the clock reaches `until`, reading it again at least every
    /// 200 ms (a test or `LOCKSTEP_NOW` may move it).
    async fn wait_until(&self, until: DateTime<Utc>) {
        loop {
            let Ok(left) = (until - self.clock.now()).to_std() else {
                return;
            };
            if left.is_zero() {
                return;
            }
            tokio::time::sleep(left.min(std::time::Duration::from_millis(200))).await;
        }
    }

    /// One scheduled check: reads both sites; posts when the drift changed.
    async fn check(&self, at: DateTime<Utc>) -> anyhow::Result<()> {
        let (staging, prod) = tokio::try_join!(
            read(self.adapters.tracked(SiteSel::Staging)?),
            read(self.adapters.tracked(SiteSel::Prod)?)
        )?;
        let drifts = [staging, prod];
        let now = digest(&drifts);
        let last = match self.store.watch_digest(&self.stack)? {
            Some(last) => last,
            None => clean_digest(&drifts),
        };
        if now == last {
            tracing::info!(digest = %now, "drift watch: unchanged since the last post");
            return Ok(());
        }
        let zone = self.config.file.freeze.timezone;
        let post = Post {
            key: crate::stacks::stack_key(
                &self.stack,
                &format!("watch/{}", at.format("%Y%m%dT%H%MZ")),
            ),
            channel: self.section.channel.clone(),
            thread_of: None,
            message: message(&drifts, &self.section.schedule, zone),
            broadcast: false,
            on_refusal: None,
        };
        let batch = Batch {
            dedup_key: Some(crate::stacks::stack_key(
                &self.stack,
                &format!("watch:{}", at.to_rfc3339()),
            )),
            effects: vec![Effect::Post(post)],
            watch_digest: Some((self.stack.clone(), now)),
            ..Batch::default()
        };
        self.store.commit(batch, self.clock.now()).await?;
        self.executor.wake();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::BlueprintId;
    use std::str::FromStr;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_schedule_is_read_in_the_freeze_time_zone_and_skips_weekends() {
        let weekdays_at_nine = croner::Cron::from_str("0 9 * * 1-5").unwrap();
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        // Friday 10:00 in Kolkata: the next is Monday 09:00 there (03:30 UTC).
        let next = next_run(&weekdays_at_nine, kolkata, at("2026-11-27T10:00:00+05:30"));
        assert_eq!(next, Some(at("2026-11-30T03:30:00Z")));
        // Exactly at a firing time: the next one, not the same.
        let next = next_run(&weekdays_at_nine, kolkata, at("2026-11-30T09:00:00+05:30"));
        assert_eq!(next, Some(at("2026-12-01T03:30:00Z")));
    }

    fn site(name: &str, only_on_site: &[&str]) -> SiteDrift {
        SiteDrift {
            site: name.into(),
            branch: if name == "prod" { "main" } else { "staging" }.into(),
            site_url: format!("https://{name}.example.com"),
            drift: Drift {
                only_on_site: only_on_site
                    .iter()
                    .map(|n| -> BlueprintId { (crate::blueprint::Kind::DocType, n.to_string()) })
                    .collect(),
                ..Drift::default()
            },
        }
    }

    #[test]
    fn the_same_drift_gives_the_same_digest_and_clean_is_the_start() {
        let one = [site("staging", &["Quick Test"]), site("prod", &[])];
        let again = [site("staging", &["Quick Test"]), site("prod", &[])];
        let other = [site("staging", &["Quick Test", "Other"]), site("prod", &[])];
        let moved = [site("staging", &[]), site("prod", &["Quick Test"])];
        assert_eq!(digest(&one), digest(&again));
        assert_ne!(digest(&one), digest(&other));
        assert_ne!(digest(&one), digest(&moved), "the site it is on counts");
        let clean = [site("staging", &[]), site("prod", &[])];
        assert_eq!(clean_digest(&one), digest(&clean));
    }

    #[test]
    fn the_post_names_each_site_and_shows_the_drifting_ones() {
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        let drifting = [site("staging", &["Quick Test"]), site("prod", &[])];
        let text = message(&drifting, "0 9 * * 1-5", kolkata);
        insta::assert_snapshot!("watch_drift", shown(&text));
        let clean = [site("staging", &[]), site("prod", &[])];
        insta::assert_snapshot!(
            "watch_clean",
            shown(&message(&clean, "0 9 * * 1-5", kolkata))
        );
    }

    fn shown(message: &Message) -> String {
        message
            .blocks
            .iter()
            .map(|block| match block {
                Block::Section(text) => text.clone(),
                Block::Code(text) => format!("```\n{text}```"),
                other => panic!("unexpected {other:?}"),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}
