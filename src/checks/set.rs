//! The promotion set: what the staging branch adds, changes or removes against the
//! production branch, narrowed to the `--only` families, with where each blueprint's
//! file lives. Pure.

use crate::blueprint::families::families;
use crate::blueprint::layout::{Layout, REPO_ROOT};
use crate::blueprint::{diff, BlueprintId, BlueprintSet};
use crate::command::FamilySlug;
use std::collections::{BTreeMap, BTreeSet};

/// The blueprints the staging branch adds or changes against main (their staging
/// bodies), narrowed to the `--only` families when given.
pub fn promotion_set(
    staging: &BlueprintSet,
    main: &BlueprintSet,
    only: &[FamilySlug],
) -> BlueprintSet {
    let drift = diff(staging, main);
    let mut set = BlueprintSet::new();
    let ids = drift.only_on_site.iter().cloned().chain(
        drift
            .changed
            .iter()
            .map(|change| (change.kind, change.name.clone())),
    );
    for (kind, name) in ids {
        if let Some(blueprint) = staging.get(kind, &name) {
            set.insert(blueprint.clone());
        }
    }
    narrow(set, only)
}

fn narrow(set: BlueprintSet, only: &[FamilySlug]) -> BlueprintSet {
    if only.is_empty() {
        return set;
    }
    let wanted: Vec<&str> = only.iter().map(FamilySlug::as_str).collect();
    let mut narrowed = BlueprintSet::new();
    for family in families(&set)
        .into_iter()
        .filter(|f| wanted.contains(&f.slug.as_str()))
    {
        for (kind, name) in family.members {
            if let Some(blueprint) = set.get(kind, &name) {
                narrowed.insert(blueprint.clone());
            }
        }
    }
    narrowed
}

/// One blueprint of the promotion, as the PR body and the snapshot need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: BlueprintId,
    /// `new`, `changed` or `removed`.
    pub change: &'static str,
    /// Its file, from the repository root (`fixtures/app/doctypes/x.json`).
    pub path: String,
    /// The family it belongs to (its slug).
    pub family: String,
}

/// Every blueprint the promotion adds, changes or removes, with the files the
/// promotion branch writes and deletes. Removals are those in main but not on the
/// staging branch; `--only` narrows both.
pub fn promotion_members(
    staging: &BlueprintSet,
    main: &BlueprintSet,
    only: &[FamilySlug],
) -> (Vec<Member>, BTreeSet<String>) {
    promotion_members_laid_out(staging, main, &Layout::of(staging), &Layout::of(main), only)
}

/// As [`promotion_members`], for branches held as digests: `staging` and `main`
/// need only hold the blueprints that differ between the two branches (the others
/// neither join the set nor change it), and the layouts are those of the whole
/// branches, since a file's name depends on the names beside it.
pub fn promotion_members_laid_out(
    staging: &BlueprintSet,
    main: &BlueprintSet,
    staging_layout: &Layout,
    main_layout: &Layout,
    only: &[FamilySlug],
) -> (Vec<Member>, BTreeSet<String>) {
    let drift = diff(staging, main);
    let added: BTreeSet<BlueprintId> = drift.only_on_site.iter().cloned().collect();
    let promoted = promotion_set(staging, main, only);
    let mut members = Vec::new();
    let mut family_of: BTreeMap<BlueprintId, String> = BTreeMap::new();
    for family in families(&promoted) {
        for id in family.members {
            family_of.insert(id, family.slug.clone());
        }
    }
    let mut stale_paths = BTreeSet::new();
    for blueprint in promoted.iter() {
        let id = blueprint.id();
        let path = staging_layout
            .path(id.0, &id.1)
            .map(|p| format!("{REPO_ROOT}/{p}"))
            .unwrap_or_default();
        // The same blueprint under another file name in main (a slug collision
        // resolved differently): the old file goes.
        if let Some(old) = main_layout.path(id.0, &id.1) {
            let old = format!("{REPO_ROOT}/{old}");
            if old != path {
                stale_paths.insert(old);
            }
        }
        members.push(Member {
            change: if added.contains(&id) {
                "new"
            } else {
                "changed"
            },
            path,
            family: family_of.get(&id).cloned().unwrap_or_default(),
            id,
        });
    }
    // Removals: in main, gone from the staging branch.
    let removed = {
        let mut set = BlueprintSet::new();
        for (kind, name) in &drift.only_in_git {
            if let Some(blueprint) = main.get(*kind, name) {
                set.insert(blueprint.clone());
            }
        }
        narrow(set, only)
    };
    for family in families(&removed) {
        for id in family.members {
            let path = main_layout
                .path(id.0, &id.1)
                .map(|p| format!("{REPO_ROOT}/{p}"))
                .unwrap_or_default();
            members.push(Member {
                id,
                change: "removed",
                path,
                family: family.slug.clone(),
            });
        }
    }
    (members, stale_paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::canonicalize;
    use serde_json::json;

    fn role(name: &str, desk: i64) -> crate::blueprint::Blueprint {
        canonicalize(&json!({"doctype": "Role", "name": name, "desk_access": desk})).unwrap()
    }

    #[test]
    fn the_differing_blueprints_and_whole_layouts_give_the_same_members() {
        // "A B" and "a_b" share a slug: each one's file depends on the other's name.
        let staging: BlueprintSet = [
            role("A B", 1),
            role("a_b", 0),
            role("New", 0),
            role("Same", 0),
        ]
        .into_iter()
        .collect();
        let main: BlueprintSet = [role("A B", 0), role("Gone", 0), role("Same", 0)]
            .into_iter()
            .collect();
        let differing = diff(&staging, &main).ids();
        let only = |set: &BlueprintSet| -> BlueprintSet {
            differing
                .iter()
                .filter_map(|(kind, name)| set.get(*kind, name).cloned())
                .collect()
        };
        let whole = promotion_members(&staging, &main, &[]);
        let lean = promotion_members_laid_out(
            &only(&staging),
            &only(&main),
            &Layout::of(&staging),
            &Layout::of(&main),
            &[],
        );
        assert_eq!(lean, whole);
        assert_eq!(
            promotion_set(&only(&staging), &only(&main), &[]),
            promotion_set(&staging, &main, &[])
        );
        assert!(whole.0.iter().any(|m| m.change == "removed"));
    }
}
