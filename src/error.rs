//! The two kinds of failure the bot distinguishes when it talks to people.
//!
//! A [`UserError`] is the person's to fix (a bad flag, a missing right, a refused
//! promotion): its text is shown as is. Anything else is ours: it is logged in full
//! with an [`IncidentRef`], and the person sees only a short reference to quote,
//! never internals or secrets.

use std::fmt;

/// A problem the person who typed the command can fix; its message is shown verbatim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

impl UserError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// A short random reference that ties a user-facing apology to a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRef(String);

impl IncidentRef {
    pub fn new() -> Self {
        Self(format!("{:06x}", rand::random::<u32>() & 0x00ff_ffff))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for IncidentRef {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for IncidentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Turns any error into the text a person sees: a [`UserError`] as is, anything else
/// as an apology with a reference, after logging the full chain under that reference.
pub fn user_facing(err: &anyhow::Error) -> String {
    if let Some(user_error) = err.downcast_ref::<UserError>() {
        return user_error.0.clone();
    }
    let reference = IncidentRef::new();
    tracing::error!(incident = %reference, error = ?err, "internal error");
    format!(
        "Something went wrong on our side (ref `{reference}`). Nothing was changed by this \
         request; an operator can find the details in the bot's log under that reference."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_errors_pass_through_and_internal_ones_are_referenced() {
        let user = anyhow::Error::new(UserError::new("Unknown flag `--dryrun`."));
        assert_eq!(user_facing(&user), "Unknown flag `--dryrun`.");

        let internal = anyhow::anyhow!("sled said no: /secret/path");
        let shown = user_facing(&internal);
        assert!(
            shown.starts_with("Something went wrong on our side (ref `"),
            "{shown}"
        );
        assert!(!shown.contains("/secret/path"), "{shown}");
    }

    #[test]
    fn incident_refs_are_six_hex_digits() {
        let reference = IncidentRef::new();
        assert_eq!(reference.as_str().len(), 6);
        assert!(reference.as_str().chars().all(|c| c.is_ascii_hexdigit()));
    }
}
