//! Editing pull requests after they are open: a new title and body (a re-run of a
//! promotion), and finding the open revert of a PR (so a revert asked for twice
//! opens one PR).

use super::client::GithubClient;
use super::error::GithubError;
use super::models::PullRequest;
use super::transport::Op;
use http::Method;
use serde_json::json;

impl GithubClient {
    /// `PATCH pulls/{n}` with a title and body; returns the PR as it now is.
    pub async fn update_pull(
        &self,
        number: u64,
        title: &str,
        body: &str,
    ) -> Result<PullRequest, GithubError> {
        let op = Op::new(format!("updating #{number}"), "pull requests: write");
        self.send(
            Method::PATCH,
            &format!("pulls/{number}"),
            &json!({"title": title, "body": body}),
            op,
        )
        .await
    }

    /// Open pull requests into any base, newest first (one page of 100).
    pub async fn open_pulls(&self) -> Result<Vec<PullRequest>, GithubError> {
        let op = Op::new("open pull requests", "pull requests: read");
        self.get(
            "pulls?state=open&sort=created&direction=desc&per_page=100",
            op,
        )
        .await
    }

    /// The open PR that reverts #`number`, if someone (or an earlier attempt) opened
    /// one: GitHub names its branch `revert-<n>-…` and its body says "Reverts #n".
    pub async fn find_revert_of(&self, number: u64) -> Result<Option<PullRequest>, GithubError> {
        let prefix = format!("revert-{number}-");
        let exact = format!("revert-{number}");
        let mention = format!("Reverts #{number}");
        Ok(self.open_pulls().await?.into_iter().find(|pull| {
            pull.head.name.starts_with(&prefix)
                || pull.head.name == exact
                || pull
                    .body
                    .as_deref()
                    .is_some_and(|body| body.contains(&mention))
        }))
    }
}
