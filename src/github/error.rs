//! Errors a caller branches on. Each message says what GitHub answered and what to
//! do; none ever includes a token.

use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    /// 405 from `PUT /pulls/{n}/merge`: protection unmet, conflicts, or a draft.
    #[error("GitHub refused to merge pull request #{pr}: {message}")]
    MergeRefused { pr: u64, message: String },
    /// 409 from the merge: the head moved since it was reviewed.
    #[error("pull request #{pr} changed while it was being merged (its head is no longer {expected_sha}); check the reviews again before merging")]
    HeadModified { pr: u64, expected_sha: String },
    /// 404; `message` is GitHub's ("Not Found", "No commit found for the ref …",
    /// "Branch … not found").
    #[error(
        "GitHub has no {what} (404); check the repository name and that the token can read it"
    )]
    NotFound { what: String, message: String },
    /// 409 from `PUT contents/{path}`: the file changed since its sha was read.
    #[error(
        "{path} changed on GitHub since it was read ({message}); read it again before writing"
    )]
    StaleFile { path: String, message: String },
    /// A direct write to a protected branch, refused as GitHub refuses a push that
    /// skips the pull request.
    #[error("GitHub refused to write {what} directly to protected branch {branch}: {message}; it must go through a pull request")]
    BranchProtected {
        what: String,
        branch: String,
        message: String,
    },
    #[error("GitHub rejected the token (401 {message}); set a valid GITHUB_TOKEN or GitHub App credentials")]
    Unauthorized { message: String },
    /// 403 other than a rate limit; `permission` names what the token lacks.
    #[error("GitHub refused {what} (403 {message}); the token needs the {permission} permission on the repository")]
    Forbidden {
        what: String,
        message: String,
        permission: String,
    },
    #[error("GitHub's rate limit for {what} holds until {reset}; try again after that")]
    RateLimited { what: String, reset: DateTime<Utc> },
    /// 422: GitHub's own words, e.g. "Reference already exists".
    #[error("GitHub rejected {what} (422 {message}{})", details(errors))]
    Validation {
        what: String,
        message: String,
        errors: Vec<String>,
    },
    /// Any other status (5xx after retries, 400, 404-less surprises).
    #[error("GitHub answered {what} with {status}: {message}")]
    Status {
        what: String,
        status: u16,
        message: String,
    },
    #[error("could not reach GitHub for {what}: {reason} (check github.api_url and the network)")]
    Transport { what: String, reason: String },
    #[error("GitHub's answer to {what} was not what lockstep expects: {reason}")]
    Decode { what: String, reason: String },
    #[error("GitHub App authentication failed: {0}")]
    AppAuth(String),
}

fn details(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!(": {}", errors.join("; "))
    }
}

impl GithubError {
    /// Whether GitHub said this exact thing in a 422 (e.g. "Reference already exists").
    pub fn is_validation(&self, text: &str) -> bool {
        matches!(self, GithubError::Validation { message, errors, .. }
            if message.contains(text) || errors.iter().any(|e| e.contains(text)))
    }
}

/// Reading blueprints at a ref: GitHub failed, or the files there do not read as
/// blueprints.
#[derive(Debug, thiserror::Error)]
pub enum ReadBlueprintsError {
    #[error(transparent)]
    Github(#[from] GithubError),
    #[error("the blueprints at {at} do not read: {source}")]
    Layout {
        at: String,
        source: crate::blueprint::layout::LayoutError,
    },
}
