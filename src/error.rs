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

thread_local! {
    /// The reference the panic hook logged for the last panic on this thread, for
    /// the code that catches it to quote to the person affected.
    static LAST_PANIC: std::cell::RefCell<Option<IncidentRef>> = const { std::cell::RefCell::new(None) };
}

/// Installs the process-wide panic hook: every panic is logged as an error with a
/// fresh [`IncidentRef`] (and where it happened), then handed to the previous hook.
/// Code that catches a panic quotes the same reference ([`take_panic_incident`]),
/// so a panic anywhere is never silent, in the log or to the person.
pub fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let incident = IncidentRef::new();
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|text| text.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_string());
            let location = info
                .location()
                .map(|at| format!("{}:{}", at.file(), at.line()))
                .unwrap_or_default();
            tracing::error!(%incident, %location, panic = %message, "lockstep hit a bug (a panic); quote the incident reference");
            LAST_PANIC.with(|last| *last.borrow_mut() = Some(incident));
            previous(info);
        }));
    });
}

/// The reference the hook logged for the last panic on this thread (a fresh one
/// when the hook is not installed, logged here).
pub fn take_panic_incident() -> IncidentRef {
    LAST_PANIC
        .with(|last| last.borrow_mut().take())
        .unwrap_or_else(|| {
            let incident = IncidentRef::new();
            tracing::error!(%incident, "lockstep hit a bug (a panic)");
            incident
        })
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

    #[test]
    fn a_caught_panic_has_the_reference_the_hook_logged() {
        install_panic_hook();
        let caught = std::panic::catch_unwind(|| panic!("boom"));
        assert!(caught.is_err());
        let incident = take_panic_incident();
        assert_eq!(incident.as_str().len(), 6);
        // Taken once: the next catch gets its own.
        assert_ne!(take_panic_incident(), incident);
    }
}
