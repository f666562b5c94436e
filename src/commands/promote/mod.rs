//! `promote`: arrival, and the work a promotion needs done. A dry run is a read run
//! of the checklist (the same code the real run uses up to the snapshot, with no
//! side effect: a stale backup is reported, not taken). A real promotion checks the
//! caller's right and the production lock, then starts a
//! [`PromotionRun`](crate::workflow::promotion::PromotionRun), or, when the caller
//! runs promote again for the feature of the run in flight, hands that run the
//! re-run (its branch and PR are updated).
//!
//! - [`checklist`]: the eight boxes (dry and real).
//! - [`github`]: snapshot branch, PR, labels, review, merge, revert, close.
//! - [`deploy`]: backups, the CI deploy watch, bench steps, restore.
//! - [`smoke`]: the automatic probes on production.

pub mod checklist;
pub mod deploy;
pub mod github;
pub mod smoke;

use super::{header, requester, Arrival, Context};
use crate::command::{Command, EmergencyReason, FamilySlug, FeatureSlug};
use crate::slack::render::escape;
use crate::store::{AuditEntry, EnvLock};
use crate::workflow::effect::Message;
use crate::workflow::event::CommandEvent;
use crate::workflow::op::{ChecklistRequest, Op};
use crate::workflow::promotion::{PromotionRequest, PromotionRun, PRODUCTION};
use crate::workflow::read::ReadRun;
use crate::workflow::run::{Input, Run};

pub fn on_command(
    ctx: &Context,
    event: &CommandEvent,
    emergency: Option<EmergencyReason>,
    only: Vec<FamilySlug>,
    feature: Option<FeatureSlug>,
    dry_run: bool,
) -> anyhow::Result<Arrival> {
    ctx.adapters.staging()?;
    ctx.adapters.production()?;
    let command = Command::Promote {
        emergency: emergency.clone(),
        only: only.clone(),
        feature: feature.clone(),
        dry_run,
    };
    let reason = emergency.as_ref().map(|r| r.plain());
    if dry_run {
        let missing_right = (!ctx.roles.promoter).then(|| {
            format!(
                "<@{}> is not in access.promoters, so a real promote by them would be refused.",
                event.user
            )
        });
        let announce = Message::text(
            ":hourglass_flowing_sand: Promote (dry run): reading staging, production and both branches…",
        );
        let request = ChecklistRequest {
            only,
            emergency: reason,
            dry_run: true,
            missing_right,
        };
        let run = ReadRun::new(
            header(ctx, event, command),
            Op::Checklist(request),
            announce,
        );
        return Ok(Arrival::start(Run::Read(run)));
    }
    ctx.adapters.repo()?;
    let refusal = |text: String, detail: &str| {
        Arrival::reply(
            event,
            Message::text(format!(":no_entry: {text} Nothing was changed.")),
        )
        .audited(AuditEntry {
            at: ctx.now,
            actor: event.user.clone(),
            action: "promote".to_string(),
            detail: format!("refused: {detail}"),
            run_id: None,
        })
    };
    if !ctx.roles.promoter {
        return Ok(refusal(
            format!(
                "<@{}> may not promote: only the people and groups in access.promoters may. Ask one of them, or an admin to add you.",
                event.user
            ),
            "not a promoter",
        ));
    }
    if let Some(lock) = held_lock(ctx)? {
        let holder_run = ctx.store.run(&lock.run_id)?;
        if let Some(Run::Promotion(run)) = &holder_run {
            if !run.state.is_terminal() && same_feature(run, &feature, &only) {
                return Ok(Arrival {
                    deliver: Some((
                        run.header.id.clone(),
                        Input::Again {
                            user: event.user.clone(),
                            command,
                            reply_to: requester(event),
                        },
                    )),
                    ..Arrival::default()
                });
            }
        }
        let what = holder_run
            .as_ref()
            .map(|run| run.state_line())
            .unwrap_or_else(|| "gone".into());
        return Ok(refusal(
            format!(
                "Production is locked by run `{}` of <@{}> ({}{}), so a second promotion cannot start. Wait for it to end{}.",
                escape(&lock.run_id.0),
                lock.holder,
                escape(&what),
                if lock.reason.is_empty() { String::new() } else { format!("; {}", escape(&lock.reason)) },
                if lock.expires_at.is_none() { ", or an admin can `unlock prod --reason=\"…\"` once production is checked" } else { "" }
            ),
            &format!("production locked by {}", lock.run_id),
        ));
    }
    let request = PromotionRequest {
        only,
        feature,
        emergency: emergency.map(|r| (r.plain(), escape(&r.plain()))),
    };
    let run = PromotionRun::new(header(ctx, event, command), request);
    Ok(Arrival::start(Run::Promotion(Box::new(run))))
}

/// The production lock, unless it is free: no lock, or one whose run is over and
/// whose time has run out (a lock without an expiry is held until an admin unlocks).
fn held_lock(ctx: &Context) -> anyhow::Result<Option<EnvLock>> {
    let Some((_, lock)) = ctx
        .scoped()
        .locks()?
        .into_iter()
        .find(|(env, _)| env == PRODUCTION)
    else {
        return Ok(None);
    };
    let run_over = match ctx.store.run(&lock.run_id)? {
        Some(run) => run.is_finished(),
        None => true,
    };
    let expired = lock.expires_at.is_some_and(|at| at <= ctx.now);
    Ok((!(run_over && expired)).then_some(lock))
}

/// Whether a new promote is a re-run of `run`: the same `--feature`, or neither
/// names one and they promote the same families.
fn same_feature(run: &PromotionRun, feature: &Option<FeatureSlug>, only: &[FamilySlug]) -> bool {
    match (&run.request.feature, feature) {
        (Some(a), Some(b)) => a == b,
        (None, None) => run.request.only == only,
        _ => false,
    }
}
