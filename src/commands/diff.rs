//! `diff [--site=staging|prod]`: drift between a site and the branch it tracks, as
//! PRODUCT.md §3 shows it. Reading a whole site takes a while, so it is a read run
//! whose message is edited with the report. The drift is read as the CLI's
//! `diff --site` reads it: the branch as an index of digests, then the site streamed
//! against it, and only the differing bodies read whole, so neither side of a
//! 50,000-blueprint stack is ever held as JSON trees. Also the home of the reads the
//! other commands share: the streamed drift (the checklist, the watcher, push, pull,
//! rollback, ship) and what differs between two commits (the checklist, review,
//! ship).

use super::{failed, header, Arrival, Context};
use crate::adapters::Tracked;
use crate::blueprint::layout::Layout;
use crate::blueprint::plan::Plan;
use crate::blueprint::render::{plural, RenderOptions};
use crate::blueprint::tree_index::TreeIndex;
use crate::blueprint::{Blueprint, BlueprintId, BlueprintSet, Digest, Drift};
use crate::command::{Command, SiteSel};
use crate::frappe::FetchOptions;
use crate::github::{BlobIndex, GithubClient};
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

/// A branch's blueprints at one commit, as digests: what a drift needs of it.
pub struct BranchIndex {
    pub name: String,
    pub blobs: BlobIndex,
}

impl BranchIndex {
    /// `staging@3f2a9c1`.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.blobs.short_commit())
    }
}

/// The branch's blueprints at its head, as digests.
pub async fn index_branch(tracked: Tracked<'_>) -> Result<BranchIndex, Failure> {
    let blobs = tracked
        .repo
        .github
        .index_blueprints(tracked.branch)
        .await
        .map_err(failed)?;
    Ok(BranchIndex {
        name: tracked.branch.to_string(),
        blobs,
    })
}

/// The drift between the site, streamed, and `branch` (none: an empty branch, for a
/// caller that wants `also` when the branch could not be read). `also` sees every
/// site blueprint as it arrives. The bodies of changed blueprints are read again from
/// the branch's blobs, after the site.
pub async fn site_drift(
    tracked: Tracked<'_>,
    branch: Option<&BranchIndex>,
    mut also: impl FnMut(&Blueprint, Digest) + Send,
) -> Result<Drift, Failure> {
    let empty = TreeIndex::new();
    let index = branch.map_or(&empty, |b| &b.blobs.index);
    let mut builder = index.drift_builder();
    tracked
        .site
        .for_each_blueprint(&FetchOptions::default(), |blueprint, digest| {
            also(&blueprint, digest);
            // A record listed twice (paging while someone edits) counts once.
            builder.add_with_digest(&blueprint, digest);
        })
        .await
        .map_err(failed)?;
    let wanted: Vec<BlueprintId> = builder
        .deferred()
        .map(|(kind, name)| (kind, name.to_owned()))
        .collect();
    let mut bodies = match branch {
        Some(branch) if !wanted.is_empty() => branch
            .blobs
            .read(&tracked.repo.github, wanted)
            .await
            .map_err(failed)?,
        _ => BlueprintSet::new(),
    };
    builder.finish_with(|kind, name| {
        bodies
            .remove(kind, name)
            .map(|blueprint| blueprint.body)
            .ok_or_else(|| failed(anyhow::anyhow!("{kind} {name:?} left the branch's index")))
    })
}

/// Two commits' blueprints as a promotion set needs them (the checklist, review,
/// ship's notes): the bodies of what differs between them, each read from its own
/// side, and each whole side's layout (a file's name depends on the names beside it).
pub struct Between {
    pub ours: BlueprintSet,
    pub theirs: BlueprintSet,
    pub our_layout: Layout,
    pub their_layout: Layout,
}

/// What differs between `ours` and `theirs`, read as [`Between`].
pub async fn read_between(
    github: &GithubClient,
    ours: &BlobIndex,
    theirs: &BlobIndex,
) -> Result<Between, Failure> {
    let differing = ours.index.differing(&theirs.index);
    let (our_bodies, their_bodies) = tokio::try_join!(
        ours.read(github, differing.iter().cloned()),
        theirs.read(github, differing.iter().cloned()),
    )
    .map_err(failed)?;
    let layout = |side: &BlobIndex| {
        Layout::of_names(
            side.index
                .entries()
                .iter()
                .map(|e| (e.kind, e.name.as_str())),
        )
    };
    Ok(Between {
        ours: our_bodies,
        theirs: their_bodies,
        our_layout: layout(ours),
        their_layout: layout(theirs),
    })
}

/// The plan that makes the site hold `target` (push, rollback): the site streamed
/// against it, and only the bodies the plan writes read whole.
pub async fn plan_to(tracked: Tracked<'_>, target: &BranchIndex) -> Result<Plan, Failure> {
    let drift = site_drift(tracked, Some(target), |_, _| {}).await?;
    let writes = drift
        .only_in_git
        .iter()
        .cloned()
        .chain(drift.changed.iter().map(|c| (c.kind, c.name.clone())));
    let bodies = target
        .blobs
        .read(&tracked.repo.github, writes)
        .await
        .map_err(failed)?;
    Ok(Plan::from_drift(&drift, &bodies))
}

/// Reads the branch, then the site against it, and reports the drift.
pub async fn read(tracked: Tracked<'_>) -> OpResult {
    let branch = index_branch(tracked).await?;
    let drift = site_drift(tracked, Some(&branch), |_, _| {}).await?;
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
