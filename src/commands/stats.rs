//! `stats [--days=N]`: the four DORA figures from the promotion runs the store
//! keeps (finished promotions are never pruned), each printed with the definition
//! it was computed by, so nobody has to guess what "lead time" meant here. Reads
//! the store only; the arithmetic ([`Figures::of`]) is pure and works on plain
//! [`Promotion`] records, not on runs, so it is tested as a table.
//!
//! What counts: a promotion that *ended* in the window. A deployment is a promotion
//! that was merged to production; it succeeded when it passed the smoke test, and
//! failed when it was rolled back (or failed after the merge). Refused and
//! cancelled promotions never reached production and count nowhere.

use super::{Arrival, Context};
use crate::slack::render::escape;
use crate::workflow::effect::{Block, Message};
use crate::workflow::event::CommandEvent;
use crate::workflow::promotion::{PromotionRun, PromotionState};
use crate::workflow::run::Run;
use chrono::{DateTime, Duration, Utc};

/// The window when `--days` is not given.
pub const DEFAULT_DAYS: u32 = 30;

/// How a promotion ended, as the figures see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Deployed and passed the smoke test.
    Succeeded,
    /// Deployed, then rolled back or failed after the merge.
    FailedInProduction,
    /// Never reached production (refused, cancelled, failed before the merge).
    NotDeployed,
}

/// One finished promotion, reduced to the times the figures need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion {
    pub ended_at: DateTime<Utc>,
    pub ending: Ending,
    /// The oldest commit on staging the promotion carried.
    pub first_change_at: Option<DateTime<Utc>>,
    /// When its deploy finished on production.
    pub deployed_at: Option<DateTime<Utc>>,
    /// When a rollback started, and when production was restored from the backup.
    pub rollback: Option<(DateTime<Utc>, Option<DateTime<Utc>>)>,
}

impl Promotion {
    /// The figures' view of a finished promotion run; `None` while it runs.
    pub fn of(run: &PromotionRun) -> Option<Promotion> {
        let ended_at = run.facts.ended_at.filter(|_| run.state.is_terminal())?;
        let merged = run.facts.merge_sha.is_some();
        let ending = match run.state {
            PromotionState::Succeeded => Ending::Succeeded,
            _ if merged => Ending::FailedInProduction,
            _ => Ending::NotDeployed,
        };
        let rollback = &run.facts.rollback;
        Some(Promotion {
            ended_at,
            ending,
            first_change_at: run.facts.snapshot.as_ref().and_then(|s| s.first_change_at),
            deployed_at: run.facts.deploy.deployed_at,
            rollback: rollback.started_at.map(|at| (at, rollback.restored_at)),
        })
    }
}

/// A median duration and how many values it was taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Median {
    pub value: Duration,
    pub over: usize,
}

/// The four figures over one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figures {
    pub days: u32,
    pub since: DateTime<Utc>,
    /// Successful deployments in the window.
    pub deployments: usize,
    /// Median first commit → deployed, over successful deployments that know both.
    pub lead_time: Option<Median>,
    /// Successful deployments whose first commit time is unknown.
    pub lead_time_unknown: usize,
    /// (failed in production, all deployments).
    pub failures: (usize, usize),
    /// Median rollback start → production restored.
    pub time_to_restore: Option<Median>,
    /// Rollbacks whose restore did not succeed (production restored by hand).
    pub unrestored: usize,
}

impl Figures {
    /// The figures for the promotions that ended in the `days` before `now`.
    pub fn of(promotions: &[Promotion], days: u32, now: DateTime<Utc>) -> Figures {
        let since = now - Duration::days(i64::from(days));
        let window: Vec<&Promotion> = promotions
            .iter()
            .filter(|p| p.ended_at > since && p.ended_at <= now)
            .collect();
        let succeeded: Vec<&&Promotion> = window
            .iter()
            .filter(|p| p.ending == Ending::Succeeded)
            .collect();
        let leads: Vec<Duration> = succeeded
            .iter()
            .filter_map(|p| Some(p.deployed_at? - p.first_change_at?))
            .collect();
        let failed = window
            .iter()
            .filter(|p| p.ending == Ending::FailedInProduction)
            .count();
        let restores: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> =
            window.iter().filter_map(|p| p.rollback).collect();
        let restored: Vec<Duration> = restores
            .iter()
            .filter_map(|(start, done)| Some((*done)? - *start))
            .collect();
        Figures {
            days,
            since,
            deployments: succeeded.len(),
            lead_time_unknown: succeeded.len() - leads.len(),
            lead_time: median(leads),
            failures: (failed, succeeded.len() + failed),
            unrestored: restores.len() - restored.len(),
            time_to_restore: median(restored),
        }
    }

    /// Successful deployments a week, over the window.
    pub fn per_week(&self) -> f64 {
        self.deployments as f64 * 7.0 / f64::from(self.days)
    }

    /// The change failure rate in whole percent, when anything was deployed.
    pub fn failure_percent(&self) -> Option<u32> {
        let (failed, all) = self.failures;
        (all > 0).then(|| ((failed as f64 * 100.0) / all as f64).round() as u32)
    }
}

/// The median of `values` (the mean of the middle two for an even count).
fn median(mut values: Vec<Duration>) -> Option<Median> {
    values.sort();
    let over = values.len();
    let value = match over {
        0 => return None,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2,
    };
    Some(Median { value, over })
}

/// `3 d 4 h`, `2 h 5 min`, `12 min`, `40 s`.
pub fn human_duration(d: Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (days, hours, mins) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, _) => format!("{mins} min"),
        (0, _, 0) => format!("{hours} h"),
        (0, _, _) => format!("{hours} h {mins} min"),
        (_, 0, _) => format!("{days} d"),
        _ => format!("{days} d {hours} h"),
    }
}

/// The finished promotions among `runs`, as the figures see them.
pub fn finished_promotions(runs: &[Run]) -> Vec<Promotion> {
    runs.iter()
        .filter_map(|run| match run {
            Run::Promotion(promotion) => Promotion::of(promotion),
            _ => None,
        })
        .collect()
}

pub fn on_command(
    ctx: &Context,
    event: &CommandEvent,
    days: Option<u32>,
) -> anyhow::Result<Arrival> {
    let promotions = finished_promotions(&ctx.scoped().runs()?);
    let figures = Figures::of(&promotions, days.unwrap_or(DEFAULT_DAYS), ctx.now);
    let staging = ctx
        .config
        .file
        .github
        .as_ref()
        .map(|g| g.staging_branch.as_str())
        .unwrap_or("staging");
    Ok(Arrival::announce(event, render(&figures, staging)))
}

/// The message: a headline, then each figure with its definition.
pub fn render(figures: &Figures, staging_branch: &str) -> Message {
    let headline = format!(
        "*Delivery figures (DORA)*, promotions that ended in the last {} days (since {})",
        figures.days,
        figures.since.format("%Y-%m-%d %H:%M UTC")
    );
    let body = [
        frequency_line(figures),
        lead_time_line(figures, staging_branch),
        failure_line(figures),
        restore_line(figures),
    ]
    .join("\n");
    Message {
        text: headline.clone(),
        blocks: vec![Block::Section(headline), Block::Section(body)],
    }
}

pub(super) fn frequency_line(f: &Figures) -> String {
    format!(
        "• *Deployment frequency*: {} ({:.1} a week)\n      _promotions deployed to production that passed the smoke test, per week of the window_",
        crate::blueprint::render::plural(f.deployments, "deployment"),
        f.per_week()
    )
}

pub(super) fn lead_time_line(f: &Figures, staging: &str) -> String {
    let value = match f.lead_time {
        Some(m) => format!(
            "median {} over {}",
            human_duration(m.value),
            crate::blueprint::render::plural(m.over, "deployment")
        ),
        None => "no data".to_string(),
    };
    let unknown = match f.lead_time_unknown {
        0 => String::new(),
        n => format!(" ({n} without a recorded first commit left out)"),
    };
    format!(
        "• *Lead time for changes*: {value}{unknown}\n      _from the first commit of the change on `{}` (the oldest commit after the staging head the last successful promotion took, read from GitHub when the promotion branch is made) to its deploy finishing on production_",
        escape(staging)
    )
}

pub(super) fn failure_line(f: &Figures) -> String {
    let value = match f.failure_percent() {
        Some(percent) => format!("{percent}% ({} of {})", f.failures.0, f.failures.1),
        None => "no deployments".to_string(),
    };
    format!(
        "• *Change failure rate*: {value}\n      _deployments rolled back (or failed after the merge) / all deployments that ended; refused and cancelled promotions never reached production and are not counted_"
    )
}

pub(super) fn restore_line(f: &Figures) -> String {
    let value = match f.time_to_restore {
        Some(m) => format!(
            "median {} over {}",
            human_duration(m.value),
            crate::blueprint::render::plural(m.over, "rollback")
        ),
        None => "no rollbacks".to_string(),
    };
    let unrestored = match f.unrestored {
        0 => String::new(),
        n => format!(" ({n} whose restore failed left out)"),
    };
    format!(
        "• *Time to restore*: {value}{unrestored}\n      _from the start of a rollback to production restored from its backup_"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    const NOW: &str = "2026-11-25T12:00:00Z";

    /// The message's sections as Slack shows them, one after another.
    fn shown(message: &Message) -> String {
        message
            .blocks
            .iter()
            .map(|block| match block {
                Block::Section(text) => text.clone(),
                other => panic!("stats posts sections only, not {other:?}"),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn succeeded(first: &str, deployed: &str, ended: &str) -> Promotion {
        Promotion {
            ended_at: at(ended),
            ending: Ending::Succeeded,
            first_change_at: Some(at(first)),
            deployed_at: Some(at(deployed)),
            rollback: None,
        }
    }

    fn rolled_back(start: &str, restored: Option<&str>) -> Promotion {
        Promotion {
            ended_at: at(restored.unwrap_or(start)),
            ending: Ending::FailedInProduction,
            first_change_at: None,
            deployed_at: Some(at(start)),
            rollback: Some((at(start), restored.map(at))),
        }
    }

    fn history() -> Vec<Promotion> {
        vec![
            succeeded(
                "2026-11-20T08:00:00Z",
                "2026-11-20T10:00:00Z",
                "2026-11-20T10:30:00Z",
            ),
            succeeded(
                "2026-11-22T09:00:00Z",
                "2026-11-22T13:00:00Z",
                "2026-11-22T13:05:00Z",
            ),
            rolled_back("2026-11-24T10:00:00Z", Some("2026-11-24T10:20:00Z")),
            Promotion {
                ended_at: at("2026-11-24T11:00:00Z"),
                ending: Ending::NotDeployed,
                first_change_at: None,
                deployed_at: None,
                rollback: None,
            },
        ]
    }

    #[test]
    fn the_four_figures_of_a_small_history() {
        let f = Figures::of(&history(), 7, at(NOW));
        assert_eq!(f.deployments, 2);
        assert_eq!(f.per_week(), 2.0);
        // 2 h and 4 h: the median of two is their mean.
        assert_eq!(
            f.lead_time,
            Some(Median {
                value: Duration::hours(3),
                over: 2
            })
        );
        assert_eq!(f.failures, (1, 3), "the refused one is not a deployment");
        assert_eq!(f.failure_percent(), Some(33));
        assert_eq!(
            f.time_to_restore,
            Some(Median {
                value: Duration::minutes(20),
                over: 1
            })
        );
    }

    #[test]
    fn the_window_keeps_only_what_ended_in_it() {
        let f = Figures::of(&history(), 3, at(NOW));
        // Since 2026-11-22 12:00: the second success, the rollback, the refusal.
        assert_eq!(f.deployments, 1);
        assert_eq!(f.failures, (1, 2));
        assert_eq!(f.failure_percent(), Some(50));
        let f = Figures::of(&history(), 7, at("2026-11-21T00:00:00Z"));
        assert_eq!(f.deployments, 1, "what ends after now is not counted");
    }

    #[test]
    fn unknown_times_are_left_out_and_counted() {
        let mut promotions = history();
        promotions[0].first_change_at = None;
        promotions.push(rolled_back("2026-11-25T09:00:00Z", None));
        let f = Figures::of(&promotions, 7, at(NOW));
        assert_eq!(f.lead_time.map(|m| m.over), Some(1));
        assert_eq!(f.lead_time_unknown, 1);
        assert_eq!(f.unrestored, 1);
        assert_eq!(f.failures, (2, 4));
    }

    #[test]
    fn an_empty_history_has_no_figures_but_says_so() {
        let f = Figures::of(&[], 30, at(NOW));
        assert_eq!(f.deployments, 0);
        assert_eq!(f.lead_time, None);
        assert_eq!(f.failure_percent(), None);
        assert_eq!(f.time_to_restore, None);
        insta::assert_snapshot!("stats_empty", shown(&render(&f, "staging")));
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        let mins = |m: &[i64]| m.iter().map(|m| Duration::minutes(*m)).collect::<Vec<_>>();
        assert_eq!(
            median(mins(&[30, 10, 20])).unwrap().value,
            Duration::minutes(20)
        );
        assert_eq!(
            median(mins(&[40, 10])).unwrap().value,
            Duration::minutes(25)
        );
        assert_eq!(median(Vec::new()), None);
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human_duration(Duration::seconds(40)), "40 s");
        assert_eq!(human_duration(Duration::minutes(12)), "12 min");
        assert_eq!(human_duration(Duration::minutes(125)), "2 h 5 min");
        assert_eq!(human_duration(Duration::hours(3)), "3 h");
        assert_eq!(human_duration(Duration::hours(76)), "3 d 4 h");
        assert_eq!(human_duration(Duration::hours(48)), "2 d");
    }

    #[test]
    fn the_message_gives_each_figure_with_its_definition() {
        let f = Figures::of(&history(), 7, at(NOW));
        insta::assert_snapshot!("stats_week", shown(&render(&f, "staging")));
    }
}
