//! "Did you mean …?" for mistyped subcommands, flags and help topics. Owns only the
//! string distance and the choice of a suggestion; the wording is the caller's.

/// Optimal-string-alignment distance: Levenshtein plus adjacent transpositions,
/// so `pormote` is one edit from `promote`.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// The known name closest to `input` (within 2 edits), or else the only known name
/// that starts with it. Comparison ignores case and leading dashes, so `-dry-run`
/// and `--DryRun` both find `--dry-run`.
pub fn closest<'a>(input: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted = normalise(input);
    if wanted.is_empty() {
        return None;
    }
    let known: Vec<&str> = known.into_iter().collect();
    let wanted_len = wanted.chars().count();
    let by_distance = known
        .iter()
        // Lengths more than 2 apart cannot be within 2 edits; skipping them keeps a
        // 4,000-character typo from costing a full distance table per name.
        .filter(|name| normalise(name).chars().count().abs_diff(wanted_len) <= 2)
        .map(|name| (edit_distance(&wanted, &normalise(name)), *name))
        .filter(|(distance, _)| *distance <= 2 && *distance < wanted_len.max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name);
    by_distance.or_else(|| {
        let mut prefixed = known
            .iter()
            .filter(|name| wanted_len >= 2 && normalise(name).starts_with(&wanted));
        match (prefixed.next(), prefixed.next()) {
            (Some(only), None) => Some(*only),
            _ => None,
        }
    })
}

fn normalise(name: &str) -> String {
    name.trim_start_matches('-').to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("promote", "promote"), 0);
        assert_eq!(edit_distance("pormote", "promote"), 1);
        assert_eq!(edit_distance("dryrun", "dry-run"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions() {
        let subs = ["help", "status", "diff", "pull", "push", "promote"];
        assert_eq!(closest("pormote", subs), Some("promote"));
        assert_eq!(closest("PROMTE", subs), Some("promote"));
        assert_eq!(closest("prom", subs), Some("promote"));
        assert_eq!(closest("deploy", subs), None);
        assert_eq!(closest("", subs), None);
        let flags = ["--dry-run", "--only", "--help"];
        assert_eq!(closest("--dryrun", flags), Some("--dry-run"));
        assert_eq!(closest("-dry-run", flags), Some("--dry-run"));
        assert_eq!(closest("--onyl", flags), Some("--only"));
        assert_eq!(closest("--x", flags), None);
    }
}
