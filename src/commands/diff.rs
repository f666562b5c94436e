//! `diff [--site=staging|prod]`: drift between a site and the branch it tracks, as
//! PRODUCT.md §3 shows it. Reading a whole site takes a while, so it is a read run
//! whose message is edited with the report.

use super::{failed, header, Arrival, Context};
use crate::adapters::Tracked;
use crate::blueprint::render::{plural, RenderOptions};
use crate::blueprint::{diff, BlueprintSet};
use crate::command::{Command, SiteSel};
use crate::frappe::FetchOptions;
use crate::github::Snapshot;
use crate::workflow::effect::Message;
use crate::workflow::event::CommandEvent;
use crate::workflow::op::{Failure, Op, OpResult, Outcome};
use crate::workflow::read::ReadRun;
use crate::workflow::run::Run;

pub fn on_command(ctx: &Context, event: &CommandEvent, site: SiteSel) -> anyhow::Result<Arrival> {
    let tracked = ctx.adapters.tracked(site)?;
    let announce = Message::text(format!(
        ":hourglass_flowing_sand: Diff: reading site `{}` and branch `{}`…",
        tracked.site_name(),
        tracked.branch
    ));
    let run = ReadRun::new(
        header(ctx, event, Command::Diff { site }),
        Op::Diff { site },
        announce,
    );
    Ok(Arrival::start(Run::Read(run)))
}

/// A branch's blueprints at one commit.
pub struct BranchSnapshot {
    pub name: String,
    pub snapshot: Snapshot,
    pub blueprints: BlueprintSet,
}

impl BranchSnapshot {
    /// `staging@3f2a9c1`.
    pub fn label(&self) -> String {
        let commit = &self.snapshot.base.commit;
        format!("{}@{}", self.name, &commit[..commit.len().min(7)])
    }
}

/// Every blueprint on the site.
pub async fn read_site(tracked: Tracked<'_>) -> Result<BlueprintSet, Failure> {
    tracked
        .site
        .fetch_blueprints(&FetchOptions::default())
        .await
        .map_err(failed)
}

/// The branch's blueprints at its head.
pub async fn read_branch(tracked: Tracked<'_>) -> Result<BranchSnapshot, Failure> {
    let (snapshot, blueprints) = tracked
        .repo
        .github
        .read_blueprints(tracked.branch)
        .await
        .map_err(failed)?;
    Ok(BranchSnapshot {
        name: tracked.branch.to_string(),
        snapshot,
        blueprints,
    })
}

/// Reads the site and its branch at the same time and reports the drift.
pub async fn read(tracked: Tracked<'_>) -> OpResult {
    let (site_set, branch) = tokio::try_join!(read_site(tracked), read_branch(tracked))?;
    let drift = diff(&site_set, &branch.blueprints);
    let report = drift.render(&RenderOptions::new(tracked.site_url(), branch.label()));
    let headline = if drift.is_empty() {
        format!(
            ":white_check_mark: No drift between site `{}` and `{}`.",
            tracked.site_name(),
            branch.label()
        )
    } else {
        format!(
            ":warning: {} between site `{}` and `{}`.",
            plural(drift.len(), "difference"),
            tracked.site_name(),
            branch.label()
        )
    };
    Ok(Outcome::Report {
        message: Message::with_code(headline, report),
        audit: vec![format!(
            "{} vs {}: {}",
            tracked.site_name(),
            branch.label(),
            plural(drift.len(), "difference")
        )],
    })
}
