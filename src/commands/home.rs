//! The App Home tab (`app_home_opened` → `views.publish`): what `status` and
//! `stats` say, on one board a person opens whenever they like: runs in flight with
//! their state, environment locks with holder and age, the last promotions and
//! releases, and the DORA figures with a chart of deployments a week drawn as
//! Block Kit text bars (Slack shows no images a bot has not hosted somewhere).
//! Read from the store when the tab is opened; publishing is an effect.

use super::stats::{self, Ending, Figures, Promotion};
use super::status::{lock_line, run_line};
use super::Context;
use crate::slack::render::escape;
use crate::workflow::effect::{Block, Effect, HomeView, Message};
use crate::workflow::promotion::PromotionRun;
use crate::workflow::run::Run;
use chrono::{DateTime, Duration, Utc};

/// How many of the newest promotions the board lists.
const LAST_PROMOTIONS: usize = 5;
/// Runs in flight listed before "…and N more".
const MAX_RUNS: usize = 10;
/// Weeks in the deployment chart, the current one last.
const CHART_WEEKS: i64 = 8;
/// The widest bar, in blocks.
const BAR_WIDTH: usize = 20;

/// The effect that publishes `user`'s Home tab as the store stands now: one board
/// per stack (`contexts` holds one per stack; a single stack has no heading).
pub fn on_home_opened(contexts: &[Context], user: &str) -> anyhow::Result<Effect> {
    let Some(first) = contexts.first() else {
        anyhow::bail!("no stack to show on the Home tab");
    };
    let mut blocks = vec![Block::Section(format!(
        "*lockstep* — as of {}",
        first.now.format("%Y-%m-%d %H:%M UTC")
    ))];
    for ctx in contexts {
        if !ctx.stack.is_empty() {
            blocks.push(Block::Divider);
            blocks.push(Block::Section(format!("*Stack `{}`*", escape(ctx.stack))));
        }
        blocks.extend(board(ctx)?);
    }
    let message = Message {
        text: "lockstep".to_string(),
        blocks,
    };
    Ok(Effect::Home(HomeView {
        user: user.to_string(),
        view: crate::slack::render::home_view(&message),
    }))
}

/// One stack's board: runs in flight, locks, the last promotions and releases,
/// and the DORA figures.
fn board(ctx: &Context) -> anyhow::Result<Vec<Block>> {
    let runs = ctx.scoped().runs()?;
    let locks = ctx.scoped().locks()?;
    let mut blocks = vec![Block::Section(in_flight(ctx, &runs))];
    let lock_lines: Vec<String> = locks
        .iter()
        .map(|(env, lock)| lock_line(env, lock, ctx.now))
        .collect();
    blocks.push(Block::Section(titled(
        "Environment locks",
        lock_lines,
        "none",
    )));
    blocks.push(Block::Section(last_promotions(&runs)));
    blocks.push(Block::Section(last_releases(&runs)));
    blocks.push(Block::Divider);
    let staging = ctx
        .config
        .file
        .github
        .as_ref()
        .map(|g| g.staging_branch.as_str())
        .unwrap_or("staging");
    blocks.extend(figures(
        &stats::finished_promotions(&runs),
        ctx.now,
        staging,
    ));
    Ok(blocks)
}

/// `*Title*` and its lines, or `*Title*: none.`.
fn titled(title: &str, lines: Vec<String>, empty: &str) -> String {
    if lines.is_empty() {
        format!("*{title}*: {empty}.")
    } else {
        format!("*{title}*\n{}", lines.join("\n"))
    }
}

fn in_flight(ctx: &Context, runs: &[Run]) -> String {
    let running: Vec<&Run> = runs.iter().filter(|run| !run.is_finished()).collect();
    let mut lines: Vec<String> = running
        .iter()
        .take(MAX_RUNS)
        .map(|run| run_line(ctx, run))
        .collect();
    if running.len() > MAX_RUNS {
        lines.push(format!("  …and {} more", running.len() - MAX_RUNS));
    }
    titled("Runs in flight", lines, "none")
}

/// The newest promotions, newest first: state, PR, requester, when.
fn last_promotions(runs: &[Run]) -> String {
    let mut promotions: Vec<&PromotionRun> = runs
        .iter()
        .filter_map(|run| match run {
            Run::Promotion(promotion) => Some(promotion.as_ref()),
            _ => None,
        })
        .collect();
    promotions.sort_by_key(|p| std::cmp::Reverse(p.header.started_at));
    let lines = promotions
        .iter()
        .take(LAST_PROMOTIONS)
        .map(|p| promotion_line(p))
        .collect();
    titled("Last promotions", lines, "none yet")
}

/// The newest releases shipped, newest first: tag, when, the GitHub release.
fn last_releases(runs: &[Run]) -> String {
    let mut shipped: Vec<_> = runs
        .iter()
        .filter_map(|run| match run {
            Run::Ship(ship) => ship.shipped(),
            _ => None,
        })
        .collect();
    shipped.sort_by_key(|(_, _, at)| std::cmp::Reverse(*at));
    let lines = shipped
        .iter()
        .take(LAST_PROMOTIONS)
        .map(|(tag, url, at)| {
            let notes = url
                .map(|url| format!(" · <{url}|release notes>"))
                .unwrap_or_default();
            format!(
                "  • `{}` {}{notes}",
                escape(tag),
                at.format("%Y-%m-%d %H:%M UTC")
            )
        })
        .collect();
    titled("Last releases", lines, "none yet")
}

fn promotion_line(promotion: &PromotionRun) -> String {
    let pr = promotion
        .facts
        .pr
        .as_ref()
        .map(|pr| format!(", PR <{}|#{}>", pr.url, pr.number))
        .unwrap_or_default();
    let when = promotion
        .facts
        .ended_at
        .unwrap_or(promotion.header.started_at);
    format!(
        "  • `{}` {} ({}) by <@{}>{pr}",
        escape(&promotion.header.id.0),
        promotion.state.describe(),
        when.format("%Y-%m-%d %H:%M UTC"),
        promotion.header.requester.user
    )
}

/// The four figures over the default window, and the weekly chart.
fn figures(promotions: &[Promotion], now: DateTime<Utc>, staging: &str) -> Vec<Block> {
    let figures = Figures::of(promotions, stats::DEFAULT_DAYS, now);
    let lines = [
        stats::frequency_line(&figures),
        stats::lead_time_line(&figures, staging),
        stats::failure_line(&figures),
        stats::restore_line(&figures),
    ];
    vec![
        Block::Section(format!(
            "*Delivery figures (DORA)*, last {} days\n{}",
            stats::DEFAULT_DAYS,
            lines.join("\n")
        )),
        Block::Section("*Deployments a week* (█ succeeded, ░ rolled back)".to_string()),
        Block::Code(weekly_chart(promotions, now)),
    ]
}

/// Deployments in each of the last [`CHART_WEEKS`] weeks (the current, partial week
/// last), one text bar a week: `█` for each success, `░` for each failure.
pub fn weekly_chart(promotions: &[Promotion], now: DateTime<Utc>) -> String {
    let weeks: Vec<(DateTime<Utc>, usize, usize)> = (0..CHART_WEEKS)
        .rev()
        .map(|back| {
            let end = now - Duration::weeks(back);
            let start = end - Duration::weeks(1);
            let in_week = |ending: Ending| {
                promotions
                    .iter()
                    .filter(|p| p.ending == ending && p.ended_at > start && p.ended_at <= end)
                    .count()
            };
            (
                start,
                in_week(Ending::Succeeded),
                in_week(Ending::FailedInProduction),
            )
        })
        .collect();
    let most = weeks.iter().map(|(_, ok, bad)| ok + bad).max().unwrap_or(0);
    let scale = |n: usize| {
        if most <= BAR_WIDTH {
            n
        } else {
            (n * BAR_WIDTH).div_ceil(most)
        }
    };
    weeks
        .iter()
        .map(|(start, ok, bad)| {
            format!(
                "week of {}  {}{} {}",
                start.format("%b %d"),
                "█".repeat(scale(*ok)),
                "░".repeat(scale(*bad)),
                ok + bad
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn ended(when: &str, ending: Ending) -> Promotion {
        Promotion {
            ended_at: at(when),
            ending,
            first_change_at: None,
            deployed_at: None,
            rollback: None,
        }
    }

    #[test]
    fn the_chart_has_a_bar_a_week_with_failures_apart() {
        let now = at("2026-11-25T12:00:00Z");
        let promotions = [
            ended("2026-11-24T10:00:00Z", Ending::Succeeded),
            ended("2026-11-23T10:00:00Z", Ending::Succeeded),
            ended("2026-11-22T10:00:00Z", Ending::FailedInProduction),
            ended("2026-11-10T10:00:00Z", Ending::Succeeded),
            // Never deployed: not on the chart.
            ended("2026-11-24T11:00:00Z", Ending::NotDeployed),
            // Before the chart's eight weeks.
            ended("2026-09-01T10:00:00Z", Ending::Succeeded),
        ];
        insta::assert_snapshot!(weekly_chart(&promotions, now));
    }

    #[test]
    fn a_busy_week_is_scaled_to_the_widest_bar() {
        let now = at("2026-11-25T12:00:00Z");
        let promotions: Vec<Promotion> = (0..40)
            .map(|_| ended("2026-11-24T10:00:00Z", Ending::Succeeded))
            .collect();
        let chart = weekly_chart(&promotions, now);
        let last = chart.lines().last().unwrap();
        assert_eq!(last.matches('█').count(), BAR_WIDTH, "{last}");
        assert!(last.ends_with(" 40"), "{last}");
    }
}
