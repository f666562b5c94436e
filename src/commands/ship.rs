//! `ship <version> [--notes-from=<pr>] [--dry-run]`: release what the last promotion
//! took to production (PRODUCT.md §6). Arrival refuses, each with its reason, what
//! the store already rules out: a caller who is not a promoter, a release or a
//! promotion in flight, nothing promoted, a last promotion that did not succeed or
//! was already shipped. What only GitHub and the site can say (the version against
//! the tags, production against the production branch) is the first work of the
//! [`ShipRun`](crate::workflow::ship::ShipRun), which then drafts the entry and
//! waits for Edit, Ship or Cancel. A dry run reads the same and reports.
//!
//! The performers: [`draft`], [`commit_changelog`], [`tag`] and [`release`], each
//! checking before it writes.

use super::diff::{Between, BranchIndex};
use super::{failed, header, Arrival, Context};
use crate::adapters::{Adapters, ConfigRepo, Tracked};
use crate::blueprint::render::plural;
use crate::blueprint::Drift;
use crate::checks::set::promotion_members_laid_out;
use crate::command::{Command, PrNumber, SiteSel};
use crate::github::{Entry, GithubError, Landed, StampedCommit};
use crate::release::changelog::{self, Change, ChangeKind};
use crate::release::version;
use crate::slack::render::escape;
use crate::store::AuditEntry;
use crate::workflow::effect::{Block, Message};
use crate::workflow::event::CommandEvent;
use crate::workflow::op::{
    ChangelogCommit, Failure, Op, OpResult, Outcome, PromotedBlueprint, ReleaseDraft,
    ReleaseDraftRequest,
};
use crate::workflow::promotion::{PromotionRun, PromotionState};
use crate::workflow::read::ReadRun;
use crate::workflow::run::Run;
use crate::workflow::ship::{ShipRequest, ShipRun, ShippedPromotion};
use std::collections::BTreeMap;

/// The file every release adds its entry to, at the repository root.
pub const CHANGELOG: &str = "CHANGELOG.md";

pub fn on_command(
    ctx: &Context,
    event: &CommandEvent,
    version: semver::Version,
    notes_from: Option<PrNumber>,
    dry_run: bool,
) -> anyhow::Result<Arrival> {
    ctx.adapters.repo()?;
    ctx.adapters.production()?;
    let command = Command::Ship {
        version: version.clone(),
        notes_from,
        dry_run,
    };
    let runs = ctx.scoped().runs()?;
    let date = ctx
        .now
        .with_timezone(&ctx.config.file.freeze.timezone)
        .date_naive();
    let standing = Standing::read(&runs);
    let blocked = refusal(ctx, event, &standing);
    let notes_from = notes_from.map(|pr| pr.get());
    if dry_run {
        let request = ReleaseDraftRequest {
            version,
            notes_from,
            date,
            promoted: promoted_blueprints(&runs),
            dry_run: true,
            blocked: blocked.map(|(text, _)| text),
        };
        let announce = Message::text(format!(
            ":hourglass_flowing_sand: Ship {} (dry run): reading the tags, production and the changes…",
            escape(&version::tag_name(&request.version))
        ));
        let run = ReadRun::new(
            header(ctx, event, command),
            Op::DraftRelease(Box::new(request)),
            announce,
        );
        return Ok(Arrival::start(Run::Read(run)));
    }
    if let Some((text, detail)) = blocked {
        return Ok(Arrival::reply(
            event,
            Message::text(format!(":no_entry: {text} Nothing was changed.")),
        )
        .audited(AuditEntry {
            at: ctx.now,
            actor: event.user.clone(),
            action: "ship".to_string(),
            detail: format!("refused {}: {detail}", version::tag_name(&version)),
            run_id: None,
        }));
    }
    // refusal() refuses when nothing was promoted; this is only a guard.
    let last = standing
        .last_promotion
        .ok_or_else(|| anyhow::anyhow!("ship found no promoted run to release"))?;
    let request = ShipRequest {
        version,
        notes_from,
        date,
        promotion: ShippedPromotion {
            run_id: last.header.id.clone(),
            channel: last.header.requester.channel.clone(),
        },
        promoted: promoted_blueprints(&runs),
        approvals: standing.approvals,
    };
    let run = ShipRun::new(header(ctx, event, command), request);
    Ok(Arrival::start(Run::Ship(Box::new(run))))
}

/// What the store says about releasing now.
struct Standing<'a> {
    /// A release not yet ended.
    ship_in_flight: Option<&'a ShipRun>,
    /// A promotion not yet ended.
    promotion_in_flight: Option<&'a PromotionRun>,
    /// The newest promotion that reached production (merged), however it ended.
    last_promotion: Option<&'a PromotionRun>,
    /// The release that already shipped `last_promotion`.
    shipped_as: Option<&'a ShipRun>,
    /// `#1 approved by @bob` for each promotion since the last release.
    approvals: Vec<String>,
}

impl<'a> Standing<'a> {
    fn read(runs: &'a [Run]) -> Self {
        let promotions: Vec<&PromotionRun> = runs
            .iter()
            .filter_map(|run| match run {
                Run::Promotion(promotion) => Some(promotion.as_ref()),
                _ => None,
            })
            .collect();
        let ships: Vec<&ShipRun> = runs
            .iter()
            .filter_map(|run| match run {
                Run::Ship(ship) => Some(ship.as_ref()),
                _ => None,
            })
            .collect();
        let reached_production = |p: &&&PromotionRun| {
            p.facts.merge_sha.is_some() || p.state == PromotionState::Succeeded
        };
        let last_promotion = promotions
            .iter()
            .filter(reached_production)
            .max_by_key(|p| p.header.started_at)
            .copied();
        let shipped: Vec<&ShipRun> = ships
            .iter()
            .filter(|s| s.shipped().is_some())
            .copied()
            .collect();
        let shipped_as = last_promotion.and_then(|last| {
            shipped
                .iter()
                .find(|s| s.request.promotion.run_id == last.header.id)
                .copied()
        });
        let last_release_at = shipped.iter().map(|s| s.header.started_at).max();
        let mut since_release: Vec<&PromotionRun> = promotions
            .iter()
            .filter(|p| p.state == PromotionState::Succeeded)
            .filter(|p| last_release_at.is_none_or(|at| p.header.started_at > at))
            .copied()
            .collect();
        since_release.sort_by_key(|p| p.header.started_at);
        Standing {
            ship_in_flight: ships.iter().find(|s| !s.state.is_terminal()).copied(),
            promotion_in_flight: promotions.iter().find(|p| !p.state.is_terminal()).copied(),
            last_promotion,
            shipped_as,
            approvals: since_release
                .iter()
                .filter_map(|p| approval_line(p))
                .collect(),
        }
    }
}

/// `#1 approved by @bob, merged by <@U0LEAD>` (what the release notes credit).
fn approval_line(promotion: &PromotionRun) -> Option<String> {
    let pr = promotion.facts.pr.as_ref()?;
    let by = promotion
        .facts
        .approval
        .as_ref()
        .map(|a| {
            a.by.iter()
                .map(|login| format!("@{login}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|by| !by.is_empty())
        .unwrap_or_else(|| "review on GitHub".into());
    Some(format!("#{} by {by}", pr.number))
}

/// Why `ship` may not start now, for the person and for the audit log.
fn refusal(ctx: &Context, event: &CommandEvent, standing: &Standing) -> Option<(String, String)> {
    if !ctx.roles.promoter {
        return Some((
            format!(
                "<@{}> may not ship: only the people and groups in access.promoters may. Ask one of them.",
                event.user
            ),
            "not a promoter".into(),
        ));
    }
    if let Some(ship) = standing.ship_in_flight {
        return Some((
            format!(
                "Release {} (`{}`, for <@{}>) is in flight: {}. One release at a time; cancel it or let it finish first.",
                escape(&ship.tag()),
                ship.header.id,
                ship.header.requester.user,
                ship.state.describe()
            ),
            format!("release {} in flight", ship.header.id),
        ));
    }
    if let Some(promotion) = standing.promotion_in_flight {
        return Some((
            format!(
                "Promotion `{}` is in flight ({}): ship once it has ended.",
                promotion.header.id,
                promotion.state.describe()
            ),
            format!("promotion {} in flight", promotion.header.id),
        ));
    }
    let Some(last) = standing.last_promotion else {
        return Some((
            "Nothing has been promoted to production by lockstep yet, so there is nothing to release. Run `promote` first.".into(),
            "nothing promoted".into(),
        ));
    };
    let pr = last
        .facts
        .pr
        .as_ref()
        .map(|pr| format!(", PR <{}|#{}>", pr.url, pr.number))
        .unwrap_or_default();
    if last.state != PromotionState::Succeeded {
        return Some((
            format!(
                "The last promotion (`{}`{pr}) ended {}, so production is not in a released state. Fix it and promote again, then ship.",
                last.header.id,
                last.state.describe()
            ),
            format!("last promotion {} {}", last.header.id, last.state.name()),
        ));
    }
    if let Some(ship) = standing.shipped_as {
        return Some((
            format!(
                "The last promotion (`{}`{pr}) was already shipped as {}. Promote something new first.",
                last.header.id,
                escape(&ship.tag())
            ),
            format!("last promotion already shipped as {}", ship.tag()),
        ));
    }
    None
}

/// Which promotion PR brought each blueprint: the newest successful promotion that
/// carried it.
fn promoted_blueprints(runs: &[Run]) -> Vec<PromotedBlueprint> {
    let mut promotions: Vec<&PromotionRun> = runs
        .iter()
        .filter_map(|run| match run {
            Run::Promotion(p) if p.state == PromotionState::Succeeded => Some(p.as_ref()),
            _ => None,
        })
        .collect();
    promotions.sort_by_key(|p| p.header.started_at);
    let mut newest: BTreeMap<(String, String), PromotedBlueprint> = BTreeMap::new();
    for promotion in promotions {
        let (Some(pr), Some(checklist)) = (&promotion.facts.pr, &promotion.facts.checklist) else {
            continue;
        };
        for entry in &checklist.set {
            newest.insert(
                (entry.doctype.clone(), entry.name.clone()),
                PromotedBlueprint {
                    doctype: entry.doctype.clone(),
                    name: entry.name.clone(),
                    number: pr.number,
                    url: pr.url.clone(),
                },
            );
        }
    }
    newest.into_values().collect()
}

// ---- the work ------------------------------------------------------------------------

fn repo(adapters: &Adapters) -> Result<&ConfigRepo, Failure> {
    adapters.repo().map_err(|e| Failure::Refused(e.0))
}

/// Checks the version against the tags and production against the production
/// branch, then drafts the entry: from the blueprints changed since the previous
/// release tag (or the first commit), or from a PR's summary.
pub async fn draft(adapters: &Adapters, request: &ReleaseDraftRequest) -> OpResult {
    let repo = repo(adapters)?;
    let github = &repo.github;
    let prod = adapters
        .tracked(SiteSel::Prod)
        .map_err(|e| Failure::Refused(e.0))?;
    let tags: Vec<String> = github
        .list_tags()
        .await
        .map_err(failed)?
        .into_iter()
        .map(|t| t.name)
        .collect();
    let version_refusal = version::check(&request.version, &tags).err();
    let previous_tag = version::newest_tag(tags.iter().map(String::as_str)).map(|(_, name)| name);
    let ((site, branch), repository) = tokio::try_join!(read_production(prod), async {
        github.repository().await.map_err(failed)
    })?;
    let drift = site;
    let drift_refusal = (!drift.is_empty()).then(|| {
        format!(
            "production differs from `{}` in {} (someone changed production by hand, or a deploy did not finish); `diff --site=prod` shows them",
            repo.production_branch,
            plural(drift.len(), "blueprint")
        )
    });
    let base = branch.blobs.base.commit.clone();
    let (body, changes) = match request.notes_from {
        Some(number) => (summary_of_pull(repo, number).await?, 0),
        None => {
            let since = match &previous_tag {
                Some(tag) => tag.clone(),
                None => github
                    .root_commit(&repo.production_branch)
                    .await
                    .map_err(failed)?,
            };
            let before = github.index_blueprints(&since).await.map_err(failed)?;
            let between = super::diff::read_between(github, &branch.blobs, &before).await?;
            let changes = changes_between(&between, &request.promoted);
            (changelog::body(&changes), changes.len())
        }
    };
    let repo_url = if repository.html_url.is_empty() {
        format!("https://github.com/{}", repository.full_name)
    } else {
        repository.html_url.clone()
    };
    let draft = ReleaseDraft {
        body,
        changes,
        previous_tag,
        base,
        repo_url,
        from_pr: request.notes_from,
    };
    let refusals: Vec<String> = [
        request.blocked.clone(),
        version_refusal.map(|r| r.to_string()),
        drift_refusal,
    ]
    .into_iter()
    .flatten()
    .collect();
    if request.dry_run {
        return Ok(dry_run_report(request, &draft, &refusals));
    }
    if !refusals.is_empty() {
        return Err(Failure::Refused(sentence(&refusals.join("; "))));
    }
    Ok(Outcome::ReleaseDraft(Box::new(draft)))
}

/// The production site's drift against the production branch, and the branch (as
/// digests), read as `diff` reads them.
async fn read_production(prod: Tracked<'_>) -> Result<(Drift, BranchIndex), Failure> {
    let branch = super::diff::index_branch(prod).await?;
    let drift = super::diff::site_drift(prod, Some(&branch), |_, _| {}).await?;
    Ok((drift, branch))
}

/// What changed between two commits' blueprints (now: `ours`, before: `theirs`),
/// by family, with the PR that promoted each.
fn changes_between(between: &Between, promoted: &[PromotedBlueprint]) -> Vec<Change> {
    let (members, _) = promotion_members_laid_out(
        &between.ours,
        &between.theirs,
        &between.our_layout,
        &between.their_layout,
        &[],
    );
    let pr_of: BTreeMap<(&str, &str), &PromotedBlueprint> = promoted
        .iter()
        .map(|p| ((p.doctype.as_str(), p.name.as_str()), p))
        .collect();
    members
        .into_iter()
        .map(|member| {
            let doctype = member.id.0.doctype().to_string();
            let name = member.id.1.clone();
            let pr = pr_of
                .get(&(doctype.as_str(), name.as_str()))
                .map(|p| (p.number, p.url.clone()));
            Change {
                kind: match member.change {
                    "new" => ChangeKind::Added,
                    "removed" => ChangeKind::Removed,
                    _ => ChangeKind::Changed,
                },
                family: member.family,
                doctype,
                name,
                pr,
            }
        })
        .collect()
}

/// A PR body's `## Summary`, or its whole body when it has no such section.
async fn summary_of_pull(repo: &ConfigRepo, number: u64) -> Result<String, Failure> {
    let pull = match repo.github.get_pull(number).await {
        Ok(pull) => pull,
        Err(GithubError::NotFound { .. }) => {
            return Err(Failure::Refused(format!(
                "--notes-from: the config repository has no PR #{number}"
            )))
        }
        Err(err) => return Err(failed(err)),
    };
    let body = pull.body.unwrap_or_default();
    let text = changelog::summary_of(&body).unwrap_or_else(|| body.trim().to_string());
    if text.is_empty() {
        return Err(Failure::Refused(format!(
            "--notes-from: PR #{number} has no description to take the notes from"
        )));
    }
    Ok(text)
}

fn dry_run_report(
    request: &ReleaseDraftRequest,
    draft: &ReleaseDraft,
    refusals: &[String],
) -> Outcome {
    let tag = version::tag_name(&request.version);
    let headline = if refusals.is_empty() {
        format!(
            ":memo: Ship {} (dry run): it can be shipped. The draft below would be offered with Edit, Ship and Cancel. Nothing was changed.",
            escape(&tag)
        )
    } else {
        format!(
            ":no_entry: Ship {} (dry run): it would be refused: {} Nothing was changed.",
            escape(&tag),
            escape(&sentence(&refusals.join("; ")))
        )
    };
    let since = draft
        .previous_tag
        .as_deref()
        .map(|t| format!("since `{}`", escape(t)))
        .unwrap_or_else(|| "since the first commit".into());
    let message = Message {
        text: headline.clone(),
        blocks: vec![
            Block::Section(headline),
            Block::Code(changelog::entry_with_body(
                &request.version,
                request.date,
                &draft.body,
            )),
            Block::Context(format!(
                "{} changed {since}; production branch at `{}`.",
                plural(draft.changes, "blueprint"),
                &draft.base[..draft.base.len().min(7)]
            )),
        ],
    };
    Outcome::Report {
        message,
        audit: vec![format!(
            "dry run of {tag}: {}",
            if refusals.is_empty() {
                "can ship".to_string()
            } else {
                format!("would be refused ({})", refusals.join("; "))
            }
        )],
    }
}

/// Capitalised, with a full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// CHANGELOG.md with the entry, on the release branch or directly on the production
/// branch. The entry already on the production branch is done (`on_main`); already
/// on the release branch is done too. Otherwise the file is made from the production
/// branch's CHANGELOG.md as it is now and committed (stamped: the same request
/// gives the same commit), on top of the release branch if it exists.
pub async fn commit_changelog(adapters: &Adapters, request: &ChangelogCommit) -> OpResult {
    let repo = repo(adapters)?;
    let github = &repo.github;
    // A branch that moves while we write is read again; a few times at most.
    for _ in 0..3 {
        let main = github
            .base_of(&repo.production_branch)
            .await
            .map_err(failed)?;
        let on_main = read_changelog(repo, &main.commit).await?;
        if changelog::holds(&on_main, &request.entry) {
            return Ok(Outcome::ChangelogCommitted {
                sha: main.commit,
                on_main: true,
            });
        }
        let (parent, parent_tree, create_branch) = if request.direct {
            (main.commit.clone(), main.tree.clone(), false)
        } else {
            match github.branch_head(&request.branch).await.map_err(failed)? {
                Some(head) => {
                    if changelog::holds(&read_changelog(repo, &head).await?, &request.entry) {
                        return Ok(Outcome::ChangelogCommitted {
                            sha: head,
                            on_main: false,
                        });
                    }
                    let tree = github.git_commit(&head).await.map_err(failed)?.tree.sha;
                    (head, tree, false)
                }
                None => (main.commit.clone(), main.tree.clone(), true),
            }
        };
        let text = changelog::insert(
            Some(&on_main).filter(|t| !t.is_empty()).map(String::as_str),
            &request.entry,
            &request.version,
            request.previous_tag.as_deref(),
            &request.repo_url,
        );
        let commit = StampedCommit {
            branch: &request.branch,
            parent: &parent,
            parent_tree: &parent_tree,
            message: &request.message,
            stamp: request.stamp,
            entries: vec![(CHANGELOG.to_string(), Entry::Text(text))],
            create_branch,
        };
        match github.commit_stamped(&commit).await {
            Ok(Landed::At(sha)) => {
                return Ok(Outcome::ChangelogCommitted {
                    sha,
                    on_main: request.direct,
                })
            }
            Ok(Landed::Moved { .. }) => continue,
            Err(GithubError::BranchProtected { .. }) if request.direct => {
                return Err(Failure::Refused(format!(
                    "`{}` is protected, so CHANGELOG.md cannot be committed to it directly; set ship.changelog = \"pr\" to land it through a reviewed PR",
                    request.branch
                )))
            }
            Err(err) => return Err(failed(err)),
        }
    }
    Err(Failure::BranchMoved {
        branch: request.branch.clone(),
    })
}

/// CHANGELOG.md at a commit ("" when there is none).
async fn read_changelog(repo: &ConfigRepo, commit: &str) -> Result<String, Failure> {
    let file = repo
        .github
        .get_file(CHANGELOG, commit)
        .await
        .map_err(failed)?;
    Ok(file
        .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
        .unwrap_or_default())
}

/// The annotated tag on `sha`; the tag already there on that commit is done, on
/// another commit is refused (nothing is ever moved or forced).
pub async fn tag(adapters: &Adapters, name: &str, sha: &str, message: &str) -> OpResult {
    let github = &repo(adapters)?.github;
    if let Some(existing) = github.tag_ref(name).await.map_err(failed)? {
        let (object, commit) = match existing.kind.as_str() {
            "tag" => {
                let object = github.get_tag_object(&existing.sha).await.map_err(failed)?;
                (
                    existing.sha.clone(),
                    object.and_then(|o| o.object).map(|target| target.sha),
                )
            }
            _ => (existing.sha.clone(), Some(existing.sha.clone())),
        };
        if commit.as_deref() == Some(sha) {
            return Ok(Outcome::Tagged {
                object,
                already: true,
            });
        }
        return Err(Failure::Refused(format!(
            "`{name}` is already a tag of the config repository, on commit {}, not on the commit holding the entry ({})",
            commit.as_deref().map(|c| &c[..c.len().min(7)]).unwrap_or("unknown"),
            &sha[..sha.len().min(7)]
        )));
    }
    match github.create_annotated_tag(name, message, sha).await {
        Ok(object) => Ok(Outcome::Tagged {
            object: object.sha,
            already: false,
        }),
        Err(err) => Err(failed(err)),
    }
}

/// The GitHub release of the tag; one already there (made before a restart) is done.
pub async fn release(adapters: &Adapters, tag: &str, name: &str, body: &str) -> OpResult {
    let github = &repo(adapters)?.github;
    if let Some(existing) = github.release_for_tag(tag).await.map_err(failed)? {
        return Ok(Outcome::Released {
            url: existing.html_url,
            already: true,
        });
    }
    match github.create_release(tag, name, body).await {
        Ok(made) => Ok(Outcome::Released {
            url: made.html_url,
            already: false,
        }),
        // Made by an attempt whose answer was lost.
        Err(err) if err.is_validation("already_exists") => {
            match github.release_for_tag(tag).await.map_err(failed)? {
                Some(existing) => Ok(Outcome::Released {
                    url: existing.html_url,
                    already: true,
                }),
                None => Err(failed(err)),
            }
        }
        Err(err) => Err(failed(err)),
    }
}
