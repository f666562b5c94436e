//! Plans that make a staging site match a set of blueprints (`push`, `rollback`):
//! which records to create, update and delete, in an order Frappe accepts — a
//! Workflow after its states and actions, a Custom Field after its DocType, a
//! Dashboard after its charts and cards — and deletions in the reverse order.
//! Pure: the apply itself is the Frappe adapter's job.

use std::fmt::Write;

use super::canonical::{Blueprint, BlueprintId, BlueprintSet};
use super::diff::{diff, Drift};
use super::kinds::Kind;
use super::render::{blueprint_label, plural};

/// One change to the site.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Create(Blueprint),
    /// The target body, and how many differences it resolves.
    Update(Blueprint, usize),
    Delete(BlueprintId),
}

impl Step {
    pub fn id(&self) -> BlueprintId {
        match self {
            Step::Create(blueprint) | Step::Update(blueprint, _) => blueprint.id(),
            Step::Delete(id) => id.clone(),
        }
    }

    pub fn verb(&self) -> &'static str {
        match self {
            Step::Create(_) => "create",
            Step::Update(..) => "update",
            Step::Delete(_) => "delete",
        }
    }

    /// `create  DocType "Quick Test"`.
    pub fn describe(&self) -> String {
        let (kind, name) = self.id();
        let what = blueprint_label(kind, &name);
        match self {
            Step::Update(_, 1) => format!("update  {what}  (1 difference)"),
            Step::Update(_, n) => format!("update  {what}  ({n} differences)"),
            other => format!("{:<8}{what}", other.verb()),
        }
    }
}

/// The steps that turn `site` into `target`, in applying order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
}

/// Where a kind goes when creating: whatever it references comes first.
fn apply_rank(kind: Kind) -> u8 {
    match kind {
        Kind::Role => 0,
        Kind::DocType => 1,
        Kind::CustomField => 2,
        Kind::PropertySetter => 3,
        Kind::WorkflowState => 4,
        Kind::WorkflowActionMaster => 5,
        Kind::Workflow => 6,
        Kind::DashboardChart => 7,
        Kind::NumberCard => 8,
        Kind::Dashboard => 9,
        Kind::Report => 10,
        Kind::ServerScript => 11,
        Kind::ClientScript => 12,
        Kind::Notification => 13,
        Kind::PrintFormat => 14,
    }
}

impl Plan {
    pub fn between(site: &BlueprintSet, target: &BlueprintSet) -> Self {
        Plan::from_drift(&diff(site, target), target)
    }

    /// The plan for a drift already known (site against target), with `target`
    /// holding at least the target's bodies of what is only in it or changed: a
    /// caller that streamed the drift reads just those.
    pub fn from_drift(drift: &Drift, target: &BlueprintSet) -> Self {
        let mut upserts: Vec<Step> = Vec::new();
        for (kind, name) in &drift.only_in_git {
            if let Some(blueprint) = target.get(*kind, name) {
                upserts.push(Step::Create(blueprint.clone()));
            }
        }
        for change in &drift.changed {
            if let Some(blueprint) = target.get(change.kind, &change.name) {
                upserts.push(Step::Update(blueprint.clone(), change.details.len().max(1)));
            }
        }
        upserts.sort_by_key(|step| {
            let (kind, name) = step.id();
            (apply_rank(kind), name)
        });
        let mut deletes: Vec<Step> = drift
            .only_on_site
            .iter()
            .cloned()
            .map(Step::Delete)
            .collect();
        deletes.sort_by_key(|step| {
            let (kind, name) = step.id();
            (std::cmp::Reverse(apply_rank(kind)), name)
        });
        // Deleting first frees names and links the upserts may need.
        Plan {
            steps: deletes.into_iter().chain(upserts).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// The plan as people read it, at most `limit` steps listed.
    pub fn render(&self, headline: &str, limit: usize) -> String {
        let mut out = format!("{headline}\n");
        if self.steps.is_empty() {
            out.push_str("  nothing to do: the site already matches.\n");
            return out;
        }
        for step in self.steps.iter().take(limit) {
            let _ = writeln!(out, "  {}", step.describe());
        }
        if self.steps.len() > limit {
            let _ = writeln!(out, "  …and {} more", self.steps.len() - limit);
        }
        let count = |verb: &str| self.steps.iter().filter(|step| step.verb() == verb).count();
        let _ = writeln!(
            out,
            "{}: {} to create, {} to update, {} to delete.",
            plural(self.steps.len(), "change"),
            count("create"),
            count("update"),
            count("delete")
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::canonicalize;
    use serde_json::json;

    fn set(docs: &[serde_json::Value]) -> BlueprintSet {
        let mut set = BlueprintSet::new();
        for doc in docs {
            set.insert(canonicalize(doc).unwrap());
        }
        set
    }

    fn doctype(name: &str, label: &str) -> serde_json::Value {
        json!({"doctype": "DocType", "name": name, "custom": 1, "module": "Custom",
               "fields": [{"fieldname": "title", "fieldtype": "Data", "label": label}]})
    }

    #[test]
    fn a_plan_from_a_drift_needs_only_the_bodies_it_writes() {
        let site = set(&[
            doctype("Old", "Old"),
            doctype("Same", "S"),
            doctype("Grant", "A"),
        ]);
        let target = set(&[
            doctype("Same", "S"),
            doctype("Grant", "B"),
            doctype("New", "N"),
        ]);
        let drift = diff(&site, &target);
        let written: BlueprintSet = drift
            .only_in_git
            .iter()
            .chain(&drift.ids())
            .filter_map(|(kind, name)| target.get(*kind, name).cloned())
            .collect();
        assert!(!written.contains(Kind::DocType, "Same"));
        let plan = Plan::from_drift(&drift, &written);
        assert_eq!(plan, Plan::between(&site, &target));
        assert_eq!(plan.len(), drift.len());
    }

    #[test]
    fn creates_follow_references_and_deletes_come_first_in_reverse() {
        let site = set(&[
            doctype("Old", "Old"),
            json!({"doctype": "Custom Field", "name": "Old-x", "dt": "Old", "fieldname": "x", "fieldtype": "Data"}),
            doctype("Beneficiary", "Name"),
        ]);
        let target = set(&[
            json!({"doctype": "Workflow", "name": "Approval", "workflow_name": "Approval", "document_type": "Beneficiary",
                   "states": [{"state": "Draft", "doc_status": "0", "allow_edit": "Manager"}]}),
            json!({"doctype": "Workflow State", "name": "Draft", "workflow_state_name": "Draft"}),
            doctype("Beneficiary", "Full name"),
        ]);
        let plan = Plan::between(&site, &target);
        let lines: Vec<String> = plan.steps.iter().map(Step::describe).collect();
        assert_eq!(
            lines,
            [
                "delete  Custom Field \"Old-x\"",
                "delete  DocType \"Old\"",
                "update  DocType \"Beneficiary\"  (1 difference)",
                "create  Workflow State \"Draft\"",
                "create  Workflow \"Approval\"",
            ]
        );
    }

    #[test]
    fn a_matching_site_needs_nothing() {
        let both = set(&[doctype("Beneficiary", "Name")]);
        let plan = Plan::between(&both, &both);
        assert!(plan.is_empty());
        assert!(plan.render("Plan:", 10).contains("nothing to do"));
    }

    #[test]
    fn long_plans_are_cut_with_a_count() {
        let target = set(&(0..30)
            .map(|n| doctype(&format!("D{n:02}"), "x"))
            .collect::<Vec<_>>());
        let text = Plan::between(&BlueprintSet::new(), &target).render("Plan:", 5);
        assert!(text.contains("…and 25 more"), "{text}");
        assert!(
            text.contains("30 changes: 30 to create, 0 to update, 0 to delete."),
            "{text}"
        );
    }
}
