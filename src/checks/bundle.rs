//! The bundle box: a promotion spans at most `promote.max_families` families; a larger
//! one is refused with a split, one `promote --only=<family>` line per family. The
//! families themselves come from `blueprint::families`.

use crate::blueprint::families::{families, split_proposal};
use crate::blueprint::BlueprintSet;

use super::{BoxId, BoxOutcome};

fn family_count(n: usize) -> String {
    if n == 1 {
        "1 family".to_owned()
    } else {
        format!("{n} families")
    }
}

/// The bundle box for a promotion set.
pub fn bundle(set: &BlueprintSet, max_families: usize) -> BoxOutcome {
    let found = families(set);
    let names: Vec<&str> = found.iter().map(|f| f.slug.as_str()).collect();
    if found.len() <= max_families {
        let list = if names.is_empty() {
            String::new()
        } else {
            format!(": {}", names.join(", "))
        };
        return BoxOutcome::pass(
            BoxId::Bundle,
            format!("{} (max {max_families}){list}", family_count(found.len())),
        );
    }
    BoxOutcome::fail(
        BoxId::Bundle,
        format!(
            "{} families, more than {max_families}: promote them separately",
            found.len()
        ),
    )
    .with_more(split_proposal(&found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::canonicalize;
    use crate::checks::BoxStatus;
    use serde_json::json;

    fn doctypes(n: usize) -> BlueprintSet {
        (0..n)
            .map(|i| {
                canonicalize(
                    &json!({"doctype": "DocType", "name": format!("Thing {i}"), "custom": 1}),
                )
                .unwrap()
            })
            .collect()
    }

    #[test]
    fn within_the_limit_passes_and_names_the_families() {
        let out = bundle(&doctypes(2), 5);
        assert_eq!(out.status, BoxStatus::Pass);
        assert_eq!(out.detail, "2 families (max 5): thing-0, thing-1");
        assert_eq!(bundle(&doctypes(1), 1).detail, "1 family (max 1): thing-0");
        assert_eq!(bundle(&BlueprintSet::new(), 5).detail, "0 families (max 5)");
    }

    #[test]
    fn over_the_limit_fails_with_one_only_line_per_family() {
        let out = bundle(&doctypes(3), 2);
        assert_eq!(out.status, BoxStatus::Fail);
        assert_eq!(
            out.detail,
            "3 families, more than 2: promote them separately"
        );
        assert_eq!(out.more.len(), 3);
        for (line, i) in out.more.iter().zip(0..) {
            assert!(
                line.starts_with(&format!("promote --only=thing-{i} ")),
                "{line}"
            );
        }
    }
}
