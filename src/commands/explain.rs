//! Turns an error from an adapter into the sentence a PM reads: which side failed
//! (the staging site, production, GitHub, the bench host), what it answered, and
//! what to do. The caller adds what was and was not changed; only it knows.
//! Anything unrecognised is ours: logged in full under an incident reference, shown
//! as an apology with that reference.

use crate::error::{IncidentRef, UserError};
use crate::frappe::FrappeError;
use crate::github::{GithubError, ReadBlueprintsError};
use crate::runner::RunnerError;
use crate::slack::render::escape;

/// One or two sentences naming the side and the cause.
pub fn explain(err: &anyhow::Error) -> String {
    for cause in err.chain() {
        if let Some(user) = cause.downcast_ref::<UserError>() {
            return user.0.clone();
        }
        if let Some(frappe) = cause.downcast_ref::<FrappeError>() {
            return frappe_text(frappe);
        }
        if let Some(github) = cause.downcast_ref::<GithubError>() {
            return github_text(github);
        }
        if let Some(ReadBlueprintsError::Github(github)) =
            cause.downcast_ref::<ReadBlueprintsError>()
        {
            return github_text(github);
        }
        if let Some(layout @ ReadBlueprintsError::Layout { .. }) =
            cause.downcast_ref::<ReadBlueprintsError>()
        {
            return format!(
                "The config repository holds a file lockstep cannot read: {}.",
                escape(&layout.to_string())
            );
        }
        if let Some(runner) = cause.downcast_ref::<RunnerError>() {
            return runner_text(runner);
        }
    }
    let reference = IncidentRef::new();
    tracing::error!(incident = %reference, error = ?err, "internal error");
    format!(
        "Something went wrong on lockstep's side (ref `{reference}`); an operator can find the details in the bot's log under that reference."
    )
}

/// What a person is told when lockstep cannot record their request: its store
/// cannot be written. Sent straight to them, not through the outbox (the store is
/// what fails), so it must be complete: nothing was done, and what to do.
pub fn not_recorded(what: &str, reference: &IncidentRef) -> String {
    format!(
        ":warning: lockstep cannot record work right now (it cannot write to its store), so it did nothing with {what}. Nothing was changed. Please try again in a few minutes; an operator can find the cause in the bot's log under ref `{reference}`."
    )
}

/// What a person is told when lockstep hit a bug handling their request.
pub fn bug(what: &str, reference: &IncidentRef) -> String {
    format!(
        ":x: lockstep hit a bug while handling {what} (ref `{reference}`), so it stopped there. Nothing was changed by it; an operator can find the details in the bot's log under that reference."
    )
}

fn status_phrase(status: u16) -> String {
    match http::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

pub fn frappe_text(err: &FrappeError) -> String {
    let ctx = err.context();
    let site = &ctx.site;
    let what = match (&ctx.doctype, &ctx.record) {
        (Some(doctype), Some(record)) => format!("{} \"{}\"", escape(doctype), escape(record)),
        (Some(doctype), None) => escape(doctype),
        _ => "the request".to_string(),
    };
    let said = if ctx.message.is_empty() {
        String::new()
    } else {
        format!(" It said: {}", escape(ctx.message.trim_end_matches('.')))
    };
    let env = site.to_ascii_uppercase().replace(['-', '.'], "_");
    match err {
        FrappeError::Unauthorized(_) => format!(
            "The {site} site refused lockstep's API key (401): check FRAPPE_{env}_API_KEY and FRAPPE_{env}_API_SECRET."
        ),
        FrappeError::Forbidden(_) => format!(
            "The {site} site does not let lockstep's API user read or write {what} (403): give that user the role it needs.{said}"
        ),
        FrappeError::NotFound(_) => format!("The {site} site has no {what} (404)."),
        FrappeError::Duplicate(_) => {
            format!("The {site} site already has {what}.{said}")
        }
        FrappeError::TimestampMismatch(_) => format!(
            "Someone changed {what} on the {site} site while lockstep worked; run the command again.{said}"
        ),
        FrappeError::Validation(_) => format!("The {site} site rejected {what}.{said}"),
        FrappeError::RateLimited(_) => format!(
            "The {site} site is rate-limiting lockstep (429); try again in a minute."
        ),
        FrappeError::Server(_) => format!(
            "The {site} site answered {}; try again in a minute.{said}",
            ctx.status.map(status_phrase).unwrap_or_else(|| "an error".into())
        ),
        FrappeError::Timeout(_) => format!(
            "The {site} site did not answer in time; check that it is up, then try again."
        ),
        FrappeError::Transport(_) => format!(
            "lockstep could not reach the {site} site ({}); check sites.{site}.url and the network.",
            escape(&ctx.message)
        ),
        FrappeError::Decode(_) => format!(
            "The {site} site answered with something that is not Frappe's JSON; check sites.{site}.url points at the Frappe site."
        ),
    }
}

pub fn github_text(err: &GithubError) -> String {
    match err {
        GithubError::Unauthorized { .. } => {
            "GitHub refused lockstep's token (401): check GITHUB_TOKEN (or the GitHub App's credentials).".to_string()
        }
        GithubError::Status {
            what,
            status,
            message,
        } if *status >= 500 => format!(
            "GitHub answered {} while lockstep was reading or writing {}; try again in a minute.{}",
            status_phrase(*status),
            escape(what),
            if message.is_empty() { String::new() } else { format!(" It said: {}", escape(message)) }
        ),
        GithubError::Transport { what, reason } => format!(
            "lockstep could not reach GitHub for {} ({}); check github.api_url and the network.",
            escape(what),
            escape(reason)
        ),
        other => format!("{}.", escape(other.to_string().trim_end_matches('.'))),
    }
}

fn runner_text(err: &RunnerError) -> String {
    // The runner's own text already names the operation, the site and bench's last
    // words; only its first line goes into Slack.
    let text = err.to_string();
    let first = text.lines().next().unwrap_or(&text);
    format!(
        "On the bench host: {}.",
        escape(first.trim_end_matches('.'))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frappe::ErrorContext;

    fn ctx(status: Option<u16>, message: &str) -> Box<ErrorContext> {
        Box::new(ErrorContext {
            site: "staging".into(),
            operation: "GET list".into(),
            doctype: Some("DocType".into()),
            record: None,
            status,
            exc_type: None,
            message: message.into(),
            retry_after_secs: None,
        })
    }

    #[test]
    fn each_side_and_cause_is_named_in_words() {
        let server = anyhow::Error::new(FrappeError::Server(ctx(Some(503), "")))
            .context("while reading site `staging`");
        assert_eq!(
            explain(&server),
            "The staging site answered 503 Service Unavailable; try again in a minute."
        );
        let auth = anyhow::Error::new(FrappeError::Unauthorized(ctx(Some(401), "")));
        assert!(explain(&auth).contains("FRAPPE_STAGING_API_KEY"));
        let token = anyhow::Error::new(GithubError::Unauthorized {
            message: "Bad credentials".into(),
        });
        assert!(explain(&token).contains("check GITHUB_TOKEN"));
        let gateway = anyhow::Error::new(GithubError::Status {
            what: "tree abc".into(),
            status: 502,
            message: String::new(),
        });
        assert_eq!(
            explain(&gateway),
            "GitHub answered 502 Bad Gateway while lockstep was reading or writing tree abc; try again in a minute."
        );
        let ours = anyhow::anyhow!("sled said no: /secret/path");
        let shown = explain(&ours);
        assert!(shown.contains("(ref `"), "{shown}");
        assert!(!shown.contains("/secret/path"), "{shown}");
    }
}
