//! The diff box: the staging site equals the `staging` branch and production equals
//! `main` — no hand edits that a promotion or a migrate would silently overwrite. Takes
//! the two drifts the blueprint module computed; reading the sites and branches is the
//! caller's. This box cannot be skipped.

use crate::blueprint::render::blueprint_label;
use crate::blueprint::{BlueprintId, Drift};

use super::{plural, BoxId, BoxOutcome};

/// How many drifting blueprints are named under the box before "… and N more".
const SHOWN: usize = 5;

/// The diff box from the drift of each site against the branch it tracks.
pub fn diff_box(staging: &Drift, production: &Drift) -> BoxOutcome {
    if staging.is_empty() && production.is_empty() {
        return BoxOutcome::pass(BoxId::Diff, "staging = staging branch, production = main");
    }
    let mut parts = Vec::new();
    let mut more = Vec::new();
    for (site, branch, drift, fix) in [
        ("staging", "staging branch", staging, "pull or push staging"),
        (
            "production",
            "main",
            production,
            "hand edits on production: capture or revert them",
        ),
    ] {
        if drift.is_empty() {
            parts.push(format!("{site} clean"));
            continue;
        }
        parts.push(format!(
            "{site} ≠ {branch}: {} ({fix})",
            plural(drift.len(), "difference")
        ));
        more.extend(named(site, drift));
    }
    BoxOutcome::fail(BoxId::Diff, parts.join("; ")).with_more(more)
}

fn named(site: &str, drift: &Drift) -> Vec<String> {
    let tagged = |ids: &[BlueprintId], how: &str| -> Vec<String> {
        ids.iter()
            .map(|(kind, name)| format!("{site}: {} {how}", blueprint_label(*kind, name)))
            .collect()
    };
    let mut lines = tagged(&drift.only_on_site, "only on the site");
    lines.extend(tagged(&drift.only_in_git, "only in git"));
    let changed: Vec<BlueprintId> = drift
        .changed
        .iter()
        .map(|c| (c.kind, c.name.clone()))
        .collect();
    lines.extend(tagged(&changed, "differs"));
    let total = lines.len();
    lines.truncate(SHOWN);
    if total > SHOWN {
        lines.push(format!("{site}: … and {} more", total - SHOWN));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::{Change, Kind};
    use crate::checks::BoxStatus;

    #[test]
    fn both_clean_passes() {
        let out = diff_box(&Drift::default(), &Drift::default());
        assert_eq!(out.status, BoxStatus::Pass);
        assert_eq!(out.detail, "staging = staging branch, production = main");
    }

    #[test]
    fn hand_edits_on_production_fail_and_are_named() {
        let prod = Drift {
            only_on_site: vec![(Kind::DocType, "Quick Test".into())],
            only_in_git: vec![],
            changed: vec![Change {
                kind: Kind::DocType,
                name: "Beneficiary".into(),
                details: vec![],
            }],
        };
        let out = diff_box(&Drift::default(), &prod);
        assert_eq!(out.status, BoxStatus::Fail);
        assert_eq!(
            out.detail,
            "staging clean; production ≠ main: 2 differences (hand edits on production: capture or revert them)"
        );
        assert_eq!(
            out.more,
            vec![
                "production: DocType \"Quick Test\" only on the site",
                "production: DocType \"Beneficiary\" differs",
            ]
        );
    }

    #[test]
    fn long_drifts_are_cut() {
        let staging = Drift {
            only_in_git: (0..9).map(|i| (Kind::Report, format!("R{i}"))).collect(),
            ..Drift::default()
        };
        let out = diff_box(&staging, &Drift::default());
        assert_eq!(out.more.len(), SHOWN + 1);
        assert_eq!(out.more.last().unwrap(), "staging: … and 4 more");
        assert!(out.detail.ends_with("production clean"));
    }
}
