//! Families (PRODUCT.md §2): blueprints that belong together — a DocType with its
//! Custom Fields, Property Setters, Workflow, Reports, Charts, Cards, Scripts,
//! Notifications and child-table DocTypes; a Dashboard with its Charts and Cards — as
//! connected components over the references within a set. Owning references bind; so
//! does the use of a role, workflow state or workflow action that is itself in the set
//! (it must travel with its users). A Link field does not bind: a DocType that merely
//! links to another can be promoted on its own, and otherwise every feature linking to
//! a shared master would fold into one family. A record owned by a DocType outside the
//! set still groups with its siblings under that DocType's name. Pure: the bundle limit
//! is the checklist's business.

use std::collections::BTreeMap;

use super::canonical::{BlueprintId, BlueprintSet};
use super::kinds::{references, Kind, Reference};
use super::render::blueprint_label;

/// One family of a set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Family {
    /// The root's name: a DocType (in the set or owning members of it), else a Dashboard,
    /// else the first member.
    pub name: String,
    /// The root blueprint when it is in the set.
    pub root: Option<BlueprintId>,
    /// The feature slug for branch names and `--only=`: `beneficiary`.
    pub slug: String,
    /// Members, sorted by `(kind, name)`.
    pub members: Vec<BlueprintId>,
}

/// A branch-safe slug: ASCII letters and digits lowercased, every other run one `-`,
/// trimmed, at most 40 bytes; `family` when nothing is left.
pub fn feature_slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if out.len() >= 40 {
            break;
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        "family".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// A node of the family graph: a blueprint of the set, or a DocType outside it that
/// owns some of the set's members.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Node {
    Member(usize),
    OutsideDocType(String),
}

/// Whether a reference ties two members of a set into one family.
fn binds(reference: &Reference) -> bool {
    reference.owned
        || matches!(
            reference.target,
            Kind::Role | Kind::WorkflowState | Kind::WorkflowActionMaster
        )
}

struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n).collect(),
        }
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // The smaller index wins so roots do not depend on the order of unions.
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[hi] = lo;
        }
    }
}

/// The families of a set, sorted by slug (ties by name). Slugs are unique: a clash
/// gets `-2`, `-3`… in that order.
pub fn families(set: &BlueprintSet) -> Vec<Family> {
    let members: Vec<BlueprintId> = set.iter().map(|b| b.id()).collect();
    let index: BTreeMap<(Kind, &str), usize> = members
        .iter()
        .enumerate()
        .map(|(i, (k, n))| ((*k, n.as_str()), i))
        .collect();
    let mut nodes: Vec<Node> = (0..members.len()).map(Node::Member).collect();
    let mut outside: BTreeMap<String, usize> = BTreeMap::new();
    let mut edges = Vec::new();
    let mut owners_count: BTreeMap<usize, usize> = BTreeMap::new();
    for (i, bp) in set.iter().enumerate() {
        for reference in references(bp.kind, &bp.body).into_iter().filter(binds) {
            let target = match index.get(&(reference.target, reference.name.as_str())) {
                Some(&t) => t,
                None if reference.owned && reference.target == Kind::DocType => {
                    *outside.entry(reference.name).or_insert_with_key(|name| {
                        nodes.push(Node::OutsideDocType(name.clone()));
                        nodes.len() - 1
                    })
                }
                None => continue,
            };
            if target != i {
                edges.push((i, target));
                *owners_count.entry(target).or_default() += 1;
            }
        }
    }
    let mut uf = UnionFind::new(nodes.len());
    for (a, b) in edges {
        uf.union(a, b);
    }
    let mut components: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for node in 0..nodes.len() {
        components.entry(uf.find(node)).or_default().push(node);
    }
    let mut found: Vec<Family> = components
        .into_values()
        .filter(|c| c.iter().any(|&n| n < members.len()))
        .map(|component| build_family(set, &members, &nodes, &owners_count, &component))
        .collect();
    found.sort_by(|a, b| (&a.slug, &a.name).cmp(&(&b.slug, &b.name)));
    make_slugs_unique(&mut found);
    found
}

fn build_family(
    set: &BlueprintSet,
    members: &[BlueprintId],
    nodes: &[Node],
    owners_count: &BTreeMap<usize, usize>,
    component: &[usize],
) -> Family {
    let owned_by = |n: &usize| owners_count.get(n).copied().unwrap_or(0);
    let is_child_table = |id: &BlueprintId| {
        set.get(id.0, &id.1)
            .and_then(|b| b.body.get("istable"))
            .and_then(serde_json::Value::as_i64)
            == Some(1)
    };
    let in_set: Vec<usize> = component
        .iter()
        .copied()
        .filter(|&n| n < members.len())
        .collect();
    // Root preference: a main DocType of the set, a child DocType, a Dashboard, an
    // outside owning DocType, then the first member; the most-owned wins each rank.
    let rank = |n: usize| -> (u8, std::cmp::Reverse<usize>, usize) {
        let r = match &nodes[n] {
            Node::Member(i) => match members[*i].0 {
                Kind::DocType if !is_child_table(&members[*i]) => 0,
                Kind::DocType => 1,
                Kind::Dashboard => 2,
                _ => 4,
            },
            Node::OutsideDocType(_) => 3,
        };
        (r, std::cmp::Reverse(owned_by(&n)), n)
    };
    let root_node = *component
        .iter()
        .min_by_key(|&&n| rank(n))
        .expect("components are non-empty");
    let (name, root) = match &nodes[root_node] {
        Node::Member(i) => (members[*i].1.clone(), Some(members[*i].clone())),
        Node::OutsideDocType(name) => (name.clone(), None),
    };
    let mut family_members: Vec<BlueprintId> = in_set.iter().map(|&i| members[i].clone()).collect();
    family_members.sort();
    Family {
        slug: feature_slug(&name),
        name,
        root,
        members: family_members,
    }
}

fn make_slugs_unique(families: &mut [Family]) {
    let mut taken: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for family in families.iter_mut() {
        let base = family.slug.clone();
        let mut n = 1;
        while !taken.insert(family.slug.clone()) {
            n += 1;
            family.slug = format!("{base}-{n}");
        }
    }
}

/// The family with the most members (ties: first by slug) — the default feature name.
pub fn largest(families: &[Family]) -> Option<&Family> {
    families
        .iter()
        .min_by_key(|f| (std::cmp::Reverse(f.members.len()), f.slug.as_str()))
}

/// The family whose slug is `slug`.
pub fn by_slug<'a>(families: &'a [Family], slug: &str) -> Option<&'a Family> {
    families.iter().find(|f| f.slug == slug)
}

/// A split of an oversized promotion: one `promote --only=<slug>` line per family, with
/// what it holds.
pub fn split_proposal(families: &[Family]) -> Vec<String> {
    families
        .iter()
        .map(|family| {
            let count = family.members.len();
            let noun = if count == 1 {
                "blueprint"
            } else {
                "blueprints"
            };
            let root = match &family.root {
                Some((kind, name)) => blueprint_label(*kind, name),
                None => format!("on DocType {:?}", family.name),
            };
            format!("promote --only={}   ({count} {noun}: {root})", family.slug)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::canonical::canonicalize;
    use serde_json::{json, Value};

    fn set(docs: &[Value]) -> BlueprintSet {
        docs.iter().map(|d| canonicalize(d).unwrap()).collect()
    }

    fn sample() -> BlueprintSet {
        set(&[
            json!({"doctype": "DocType", "name": "Beneficiary", "fields": [
                {"fieldname": "officer", "fieldtype": "Link", "options": "User"},
                {"fieldname": "visits", "fieldtype": "Table", "options": "Beneficiary Visit"}
            ], "permissions": [{"role": "Manager", "permlevel": 0}]}),
            json!({"doctype": "DocType", "name": "Beneficiary Visit", "istable": 1}),
            json!({"doctype": "DocType", "name": "Experiment Assignment", "fields": [
                {"fieldname": "beneficiary", "fieldtype": "Link", "options": "Beneficiary"}
            ], "permissions": [{"role": "Program Officer", "permlevel": 0}]}),
            json!({"doctype": "Workflow", "name": "Beneficiary Approval", "document_type": "Beneficiary"}),
            json!({"doctype": "Role", "name": "Manager"}),
            json!({"doctype": "Custom Field", "name": "Grant-field_officer", "dt": "Grant"}),
            json!({"doctype": "Property Setter", "name": "Grant-main-title_field", "doc_type": "Grant"}),
            json!({"doctype": "Dashboard", "name": "Beneficiary Operations", "charts": [{"chart": "By Village"}], "cards": [{"card": "Total"}]}),
            json!({"doctype": "Dashboard Chart", "name": "By Village", "document_type": "Beneficiary"}),
            json!({"doctype": "Number Card", "name": "Total", "document_type": "Grant"}),
        ])
    }

    #[test]
    fn components_follow_ownership_and_shared_vocabulary_in_the_set() {
        let families = families(&sample());
        let summary: Vec<(String, String, usize)> = families
            .iter()
            .map(|f| (f.slug.clone(), f.name.clone(), f.members.len()))
            .collect();
        // The chart is owned by Beneficiary and the card by Grant, and the dashboard owns
        // both, so Beneficiary, Grant and the dashboard form one family; the new Manager
        // role travels with Beneficiary, which uses it; the experiment only links.
        assert_eq!(
            summary,
            vec![
                ("beneficiary".to_string(), "Beneficiary".to_string(), 9),
                (
                    "experiment-assignment".to_string(),
                    "Experiment Assignment".to_string(),
                    1
                ),
            ]
        );
        assert_eq!(largest(&families).unwrap().slug, "beneficiary");
    }

    #[test]
    fn outside_doctype_groups_its_members() {
        let only_grant = set(&[
            json!({"doctype": "Custom Field", "name": "Grant-field_officer", "dt": "Grant"}),
            json!({"doctype": "Property Setter", "name": "Grant-main-title_field", "doc_type": "Grant"}),
            json!({"doctype": "Dashboard", "name": "Ops"}),
        ]);
        let families = families(&only_grant);
        assert_eq!(families.len(), 2);
        assert_eq!(families[0].name, "Grant");
        assert_eq!(families[0].root, None);
        assert_eq!(families[1].root, Some((Kind::Dashboard, "Ops".to_string())));
        insta::assert_snapshot!(split_proposal(&families).join("\n"), @r#"
        promote --only=grant   (2 blueprints: on DocType "Grant")
        promote --only=ops   (1 blueprint: Dashboard "Ops")
        "#);
    }

    #[test]
    fn slugs() {
        assert_eq!(feature_slug("Beneficiary Approval"), "beneficiary-approval");
        assert_eq!(feature_slug("../ü"), "family");
        let clash = set(&[
            json!({"doctype": "DocType", "name": "A B"}),
            json!({"doctype": "DocType", "name": "A-B"}),
        ]);
        let slugs: Vec<_> = families(&clash).into_iter().map(|f| f.slug).collect();
        assert_eq!(slugs, vec!["a-b", "a-b-2"]);
    }
}
