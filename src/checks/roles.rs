//! The role coverage box: every role a workflow of the promotion set names — a state's
//! `allow_edit`, a transition's `allowed` — has at least one enabled user on
//! production, or documents would stall in a state nobody may act on. Pure: the users
//! (`GET /api/resource/User` with `roles.role`) are fetched by the caller.

use std::collections::BTreeMap;

use crate::blueprint::kinds::table_rows;
use crate::blueprint::{BlueprintSet, Kind};

use super::{BoxId, BoxOutcome};

/// A production user as the role check needs it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProdUser {
    pub name: String,
    pub enabled: bool,
    pub roles: Vec<String>,
}

/// Users that never count: Administrator holds every role, so counting it would hide a
/// role nobody real holds; Guest is not a person.
const NOT_STAFF: [&str; 2] = ["Administrator", "Guest"];

/// Roles every user has implicitly in Frappe.
const IMPLICIT_ROLES: [&str; 2] = ["All", "Guest"];

/// The roles named by the set's workflows, in order of first mention.
pub fn workflow_roles(set: &BlueprintSet) -> Vec<String> {
    let mut roles: Vec<String> = Vec::new();
    for workflow in set.of_kind(Kind::Workflow) {
        let states = table_rows(&workflow.body, "states").filter_map(|r| r.get("allow_edit"));
        let transitions =
            table_rows(&workflow.body, "transitions").filter_map(|r| r.get("allowed"));
        for role in states.chain(transitions).filter_map(|v| v.as_str()) {
            let role = role.trim();
            if !role.is_empty() && !roles.iter().any(|r| r == role) {
                roles.push(role.to_owned());
            }
        }
    }
    roles
}

/// Enabled users per role (Administrator and Guest left out).
pub fn enabled_counts(users: &[ProdUser]) -> (BTreeMap<String, usize>, usize) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut staff = 0;
    for user in users
        .iter()
        .filter(|u| u.enabled && !NOT_STAFF.contains(&u.name.as_str()))
    {
        staff += 1;
        let mut seen: Vec<&str> = Vec::new();
        for role in &user.roles {
            if !seen.contains(&role.as_str()) {
                seen.push(role);
                *counts.entry(role.clone()).or_default() += 1;
            }
        }
    }
    (counts, staff)
}

/// The role coverage box from production's users.
pub fn role_coverage(set: &BlueprintSet, users: &[ProdUser]) -> BoxOutcome {
    let (counts, staff) = enabled_counts(users);
    role_coverage_from_counts(set, &counts, staff)
}

/// The role coverage box from per-role counts of enabled users (as from
/// `frappe.client.get_count` per role) and the number of enabled users, which is what
/// the implicit roles `All` and `Guest` count.
pub fn role_coverage_from_counts(
    set: &BlueprintSet,
    counts: &BTreeMap<String, usize>,
    enabled_users: usize,
) -> BoxOutcome {
    let roles = workflow_roles(set);
    if roles.is_empty() {
        return BoxOutcome::pass(BoxId::RoleCoverage, "no workflow roles in the set");
    }
    let count = |role: &str| {
        if IMPLICIT_ROLES.contains(&role) {
            enabled_users
        } else {
            counts.get(role).copied().unwrap_or(0)
        }
    };
    let listed: Vec<String> = roles.iter().map(|r| format!("{r}({})", count(r))).collect();
    let empty: Vec<&str> = roles
        .iter()
        .map(String::as_str)
        .filter(|r| count(r) == 0)
        .collect();
    if empty.is_empty() {
        return BoxOutcome::pass(BoxId::RoleCoverage, listed.join(", "));
    }
    BoxOutcome::fail(
        BoxId::RoleCoverage,
        format!(
            "{} — no enabled user on production with {}",
            listed.join(", "),
            empty.join(", ")
        ),
    )
}

/// Users from the rows of `GET /api/resource/User?fields=["name","enabled","roles.role"]`,
/// which holds one row per (user, role) (reference/frappe.md §1); the role is read
/// from `role` or `roles.role`, and a user without roles comes back with none.
pub fn users_from_rows(rows: &[serde_json::Value]) -> Vec<ProdUser> {
    let mut users: BTreeMap<String, ProdUser> = BTreeMap::new();
    for row in rows {
        let Some(name) = row.get("name").and_then(|v| v.as_str()) else {
            continue;
        };
        let enabled = match row.get("enabled") {
            Some(serde_json::Value::Number(n)) => n.as_i64() != Some(0),
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) => s.trim() != "0",
            _ => true, // Frappe's default for User.enabled is 1
        };
        let user = users.entry(name.to_owned()).or_insert_with(|| ProdUser {
            name: name.to_owned(),
            enabled,
            roles: Vec::new(),
        });
        let role = row
            .get("role")
            .or_else(|| row.get("roles.role"))
            .and_then(|v| v.as_str());
        if let Some(role) = role {
            user.roles.push(role.to_owned());
        }
    }
    users.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::canonicalize;
    use crate::checks::BoxStatus;
    use serde_json::json;

    fn set() -> BlueprintSet {
        [json!({"doctype": "Workflow", "name": "Grant Approval", "document_type": "Grant",
            "states": [
                {"state": "Draft", "doc_status": "0", "allow_edit": "Field Officer"},
                {"state": "Approved", "doc_status": "1", "allow_edit": "Manager"}],
            "transitions": [
                {"state": "Draft", "action": "Approve", "next_state": "Approved", "allowed": "Manager"}]})]
        .iter()
        .map(|d| canonicalize(d).unwrap())
        .collect()
    }

    fn user(name: &str, enabled: bool, roles: &[&str]) -> ProdUser {
        ProdUser {
            name: name.into(),
            enabled,
            roles: roles.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn every_role_covered_passes_with_counts_in_order_of_mention() {
        let mut users = vec![
            user("m1@x", true, &["Manager", "Manager"]),
            user("m2@x", true, &["Manager"]),
        ];
        users.extend((0..27).map(|i| user(&format!("fo{i}@x"), true, &["Field Officer"])));
        let out = role_coverage(&set(), &users);
        assert_eq!(out.status, BoxStatus::Pass);
        assert_eq!(out.detail, "Field Officer(27), Manager(2)");
    }

    #[test]
    fn a_role_held_only_by_disabled_users_or_administrator_fails_and_is_named() {
        let users = vec![
            user("fo@x", true, &["Field Officer"]),
            user("m@x", false, &["Manager"]),
            user("Administrator", true, &["Manager", "Field Officer"]),
        ];
        let out = role_coverage(&set(), &users);
        assert_eq!(out.status, BoxStatus::Fail);
        assert_eq!(
            out.detail,
            "Field Officer(1), Manager(0) — no enabled user on production with Manager"
        );
    }

    #[test]
    fn rows_with_one_role_each_group_into_users() {
        let rows = vec![
            json!({"name": "a@x", "enabled": 1, "role": "Manager"}),
            json!({"name": "a@x", "enabled": 1, "role": "Field Officer"}),
            json!({"name": "b@x", "enabled": 0, "roles.role": "Manager"}),
            json!({"name": "c@x", "enabled": 1}),
            json!({"enabled": 1, "role": "Manager"}),
        ];
        let users = users_from_rows(&rows);
        assert_eq!(
            users,
            vec![
                user("a@x", true, &["Manager", "Field Officer"]),
                user("b@x", false, &["Manager"]),
                user("c@x", true, &[]),
            ]
        );
        assert_eq!(
            role_coverage(&set(), &users).detail,
            "Field Officer(1), Manager(1)"
        );
    }

    #[test]
    fn all_counts_every_enabled_user_and_no_workflow_passes() {
        let wf: BlueprintSet = [
            json!({"doctype": "Workflow", "name": "W", "document_type": "X",
            "states": [{"state": "Open", "doc_status": "0", "allow_edit": "All"}]}),
        ]
        .iter()
        .map(|d| canonicalize(d).unwrap())
        .collect();
        let out = role_coverage(&wf, &[user("a@x", true, &[]), user("b@x", false, &[])]);
        assert_eq!(out.detail, "All(1)");
        let out = role_coverage(&BlueprintSet::new(), &[]);
        assert_eq!(out.status, BoxStatus::Pass);
        assert_eq!(out.detail, "no workflow roles in the set");
    }
}
