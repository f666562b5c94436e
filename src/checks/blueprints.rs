//! The blueprints box: every blueprint of the promotion set (the `staging` branch's
//! changes against `main`) is on the staging site exactly as in git, and passes
//! validation — `5/5 Applied`, or which ones are not and why. Only CRITICAL and HIGH
//! validation findings hold a blueprint back; lesser ones are the reviewer's to report.
//! The staging site is compared by digest, so the checklist needs its digests only
//! ([`SiteDigests`]), not its bodies.

use std::collections::HashMap;

use crate::blueprint::render::blueprint_label;
use crate::blueprint::validate::validate_one;
use crate::blueprint::{BlueprintSet, Digest, Kind, Severity, ValidationPolicy};

use super::{cap_lines, BoxId, BoxOutcome};

/// What the box asks of the staging site: the digest of a blueprint on it.
pub trait OnSite {
    fn digest_on_site(&self, kind: Kind, name: &str) -> Option<Digest>;
}

impl OnSite for BlueprintSet {
    fn digest_on_site(&self, kind: Kind, name: &str) -> Option<Digest> {
        self.digest(kind, name)
    }
}

/// A site's blueprints as digests, filled as the site streams in.
#[derive(Debug, Default)]
pub struct SiteDigests {
    by_kind: HashMap<Kind, HashMap<String, Digest>>,
}

impl SiteDigests {
    pub fn insert(&mut self, kind: Kind, name: &str, digest: Digest) {
        self.by_kind
            .entry(kind)
            .or_default()
            .insert(name.to_owned(), digest);
    }
}

impl OnSite for SiteDigests {
    fn digest_on_site(&self, kind: Kind, name: &str) -> Option<Digest> {
        self.by_kind.get(&kind)?.get(name).copied()
    }
}

/// The blueprints box.
pub fn blueprints_box(
    promotion: &BlueprintSet,
    staging_site: &impl OnSite,
    policy: &ValidationPolicy,
) -> BoxOutcome {
    if promotion.is_empty() {
        return BoxOutcome::fail(
            BoxId::Blueprints,
            "nothing to promote: the staging branch has no changes against main",
        );
    }
    let mut problems = Vec::new();
    let mut applied = 0;
    for bp in promotion.iter() {
        let label = blueprint_label(bp.kind, &bp.name);
        let mut reasons = Vec::new();
        match staging_site.digest_on_site(bp.kind, &bp.name) {
            None => reasons.push("not on the staging site (push the staging branch)".to_owned()),
            Some(on_site) if Some(on_site) != promotion.digest(bp.kind, &bp.name) => {
                reasons.push("differs on the staging site (pull or push first)".to_owned())
            }
            Some(_) => {}
        }
        reasons.extend(
            validate_one(bp, policy)
                .into_iter()
                .filter(|f| matches!(f.severity, Severity::Critical | Severity::High))
                .map(|f| format!("{} [{}]", f.message, f.rule)),
        );
        if reasons.is_empty() {
            applied += 1;
        } else {
            problems.push(format!("{label}: {}", reasons.join("; ")));
        }
    }
    let total = promotion.len();
    if problems.is_empty() {
        return BoxOutcome::pass(BoxId::Blueprints, format!("{total}/{total} Applied"));
    }
    let first = problems[0].clone();
    let rest = if problems.len() > 1 {
        format!(" (+{} more)", problems.len() - 1)
    } else {
        String::new()
    };
    BoxOutcome::fail(
        BoxId::Blueprints,
        format!("{applied}/{total} Applied; {first}{rest}"),
    )
    .with_more(cap_lines(problems))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::canonicalize;
    use crate::checks::BoxStatus;
    use serde_json::{json, Value};

    fn set(docs: &[Value]) -> BlueprintSet {
        docs.iter().map(|d| canonicalize(d).unwrap()).collect()
    }

    fn grant() -> Value {
        json!({"doctype": "DocType", "name": "Grant", "custom": 1, "module": "Grants",
            "fields": [{"fieldname": "amount", "fieldtype": "Currency", "label": "Amount"}],
            "permissions": [{"role": "Manager", "permlevel": 0, "read": 1}]})
    }

    fn report() -> Value {
        json!({"doctype": "Report", "name": "Grants by Officer", "ref_doctype": "Grant",
            "report_type": "Report Builder", "is_standard": "No"})
    }

    #[test]
    fn all_on_staging_and_valid_passes() {
        let promo = set(&[grant(), report()]);
        let out = blueprints_box(&promo, &promo, &ValidationPolicy::default());
        assert_eq!(out.status, BoxStatus::Pass);
        assert_eq!(out.detail, "2/2 Applied");
    }

    #[test]
    fn missing_differing_and_invalid_blueprints_are_named() {
        let mut changed = grant();
        changed["fields"][0]["fieldtype"] = json!("Password");
        let promo = set(&[changed.clone(), report()]);
        let staging = set(&[grant()]);
        let out = blueprints_box(&promo, &staging, &ValidationPolicy::default());
        assert_eq!(out.status, BoxStatus::Fail);
        assert!(
            out.detail
                .starts_with("0/2 Applied; DocType \"Grant\": differs on the staging site"),
            "{}",
            out.detail
        );
        assert!(out.detail.ends_with("(+1 more)"), "{}", out.detail);
        assert!(
            out.more[0].contains("[fieldtype-not-allowed]"),
            "{:?}",
            out.more
        );
        assert_eq!(
            out.more[1],
            "Report \"Grants by Officer\": not on the staging site (push the staging branch)"
        );
        // The same DocType, allowed and present, is applied.
        let policy = ValidationPolicy {
            allowed_fieldtypes: ["Password".to_owned()].into(),
        };
        let out = blueprints_box(&set(&[changed.clone()]), &set(&[changed]), &policy);
        assert_eq!(out.detail, "1/1 Applied");
    }

    #[test]
    fn the_site_as_digests_reads_as_the_site_as_a_set() {
        let mut changed = grant();
        changed["fields"][0]["fieldtype"] = json!("Password");
        let promo = set(&[changed, report()]);
        let staging = set(&[grant()]);
        let mut digests = SiteDigests::default();
        for bp in staging.iter() {
            digests.insert(bp.kind, &bp.name, crate::blueprint::digest(&bp.body));
        }
        let policy = ValidationPolicy::default();
        assert_eq!(
            blueprints_box(&promo, &digests, &policy),
            blueprints_box(&promo, &staging, &policy)
        );
    }

    #[test]
    fn an_empty_set_is_not_a_pass() {
        let out = blueprints_box(
            &BlueprintSet::new(),
            &BlueprintSet::new(),
            &ValidationPolicy::default(),
        );
        assert_eq!(out.status, BoxStatus::Fail);
    }
}
