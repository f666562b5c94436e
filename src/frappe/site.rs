//! `SiteName`: the short name the bot uses for a Frappe site (`staging`, `prod`).

use std::fmt;

/// A site's short name: 1–64 characters of `[A-Za-z0-9._-]`, starting with a letter
/// or digit. Restricting the alphabet keeps the name safe inside URLs, environment
/// variable names and shell command lines (the runner substitutes it into templates).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct SiteName(String);

impl SiteName {
    pub fn new(name: &str) -> Result<SiteName, String> {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        let starts_well = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        if name.is_empty() || name.len() > 64 || !starts_well || !name.chars().all(valid_char) {
            return Err(format!(
                "site name {name:?} is not valid: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            ));
        }
        Ok(SiteName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `<SITE>` part of `FRAPPE_<SITE>_API_KEY`: upper-cased, `-` and `.` as `_`.
    pub fn env_prefix(&self) -> String {
        self.0
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    }
}

impl std::str::FromStr for SiteName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SiteName::new(s)
    }
}

impl fmt::Display for SiteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SiteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SiteName({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_usual_names_and_builds_env_prefix() {
        assert_eq!(SiteName::new("staging").unwrap().env_prefix(), "STAGING");
        assert_eq!(
            SiteName::new("erp.example-com").unwrap().env_prefix(),
            "ERP_EXAMPLE_COM"
        );
    }

    #[test]
    fn rejects_shell_and_path_characters() {
        for bad in ["", "a b", "a;rm", "../x", "-x", "a'b", "x/y"] {
            assert!(SiteName::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    proptest! {
        #[test]
        fn valid_names_are_shell_safe(s in "\\PC{0,80}") {
            if let Ok(name) = SiteName::new(&s) {
                prop_assert!(name.as_str().chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)));
            }
        }
    }
}
