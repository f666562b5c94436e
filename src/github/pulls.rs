//! Pull requests: open, label, request reviewers, read reviews and reduce them to a
//! decision (GraphQL `reviewDecision` first), read what reviewers asked for (review
//! bodies, line comments) and the files a PR changes, comment on its conversation,
//! wait for `mergeable`, merge with the reviewed head sha, close, and revert a merged
//! PR. There is no admin or bypass path:
//! merging goes through `PUT /merge`, and GitHub's 405 is final.

use std::time::Duration;

use http::Method;
use serde_json::{json, Value};

use super::client::{escape_path, BaseCommit, BranchWrite, GithubClient};
use super::decision::{summarize, ReviewDecision, ReviewSummary};
use super::error::GithubError;
use super::models::{
    BranchProtection, Comparison, IssueComment, MergeResult, PullFile, PullRequest, Review,
    ReviewComment, TreeListing,
};
use super::transport::Op;

#[derive(Debug, Clone)]
pub struct NewPull<'a> {
    pub title: &'a str,
    pub head: &'a str,
    pub base: &'a str,
    pub body: &'a str,
    pub draft: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMethod {
    Merge,
    Squash,
    Rebase,
}

impl MergeMethod {
    fn as_str(self) -> &'static str {
        match self {
            MergeMethod::Merge => "merge",
            MergeMethod::Squash => "squash",
            MergeMethod::Rebase => "rebase",
        }
    }
}

/// The PR a revert opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevertPull {
    pub number: u64,
    pub url: String,
}

const PULLS: &str = "pull requests: write";
const PULLS_READ: &str = "pull requests: read";

impl GithubClient {
    pub async fn create_pull(&self, new: &NewPull<'_>) -> Result<PullRequest, GithubError> {
        let body = json!({"title": new.title, "head": new.head, "base": new.base, "body": new.body, "draft": new.draft});
        self.send(
            Method::POST,
            "pulls",
            &body,
            Op::new(format!("opening a pull request from {}", new.head), PULLS),
        )
        .await
    }

    /// The open PR from `head` into `base`, if any (the retry path after an unknown
    /// outcome of `create_pull`).
    pub async fn find_open_pull(
        &self,
        head: &str,
        base: &str,
    ) -> Result<Option<PullRequest>, GithubError> {
        let path = format!(
            "pulls?state=open&head={}:{}&base={}",
            self.config.owner,
            escape_path(head),
            escape_path(base)
        );
        let pulls: Vec<PullRequest> = self
            .get(
                &path,
                Op::new(format!("pull requests from {head}"), PULLS_READ),
            )
            .await?;
        Ok(pulls.into_iter().next())
    }

    pub async fn get_pull(&self, number: u64) -> Result<PullRequest, GithubError> {
        self.get(
            &format!("pulls/{number}"),
            Op::new(format!("pull request #{number}"), PULLS_READ),
        )
        .await
    }

    /// Reads the PR until GitHub has computed `mergeable` (null at first), up to
    /// `polls` reads, doubling `delay` between them; returns the last read.
    pub async fn wait_for_mergeable(
        &self,
        number: u64,
        polls: u32,
        mut delay: Duration,
    ) -> Result<PullRequest, GithubError> {
        let mut pull = self.get_pull(number).await?;
        for _ in 1..polls.max(1) {
            if pull.mergeable.is_some() || pull.state != "open" {
                break;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(10));
            pull = self.get_pull(number).await?;
        }
        Ok(pull)
    }

    /// Closes pull request `number` without merging (`PATCH state: closed`); closing
    /// a closed one changes nothing. Returns the PR as it now stands.
    pub async fn close_pull(&self, number: u64) -> Result<PullRequest, GithubError> {
        self.send(
            Method::PATCH,
            &format!("pulls/{number}"),
            &json!({"state": "closed"}),
            Op::new(format!("closing #{number}"), PULLS),
        )
        .await
    }

    /// The files pull request `number` changes (all pages; GitHub lists at most 3000).
    pub async fn pull_files(&self, number: u64) -> Result<Vec<PullFile>, GithubError> {
        self.get_pages(
            &format!("pulls/{number}/files"),
            &format!("files of #{number}"),
            PULLS_READ,
        )
        .await
    }

    /// Posts `body` in the conversation of issue or pull request `number`. Not
    /// idempotent: to post once, look for it in [`Self::issue_comments`] first.
    pub async fn comment_on_issue(
        &self,
        number: u64,
        body: &str,
    ) -> Result<IssueComment, GithubError> {
        self.send(
            Method::POST,
            &format!("issues/{number}/comments"),
            &json!({"body": body}),
            Op::new(format!("commenting on #{number}"), "issues: write"),
        )
        .await
    }

    /// The conversation comments of issue or pull request `number`, oldest first.
    pub async fn issue_comments(&self, number: u64) -> Result<Vec<IssueComment>, GithubError> {
        self.get_pages(
            &format!("issues/{number}/comments"),
            &format!("comments on #{number}"),
            "issues: read",
        )
        .await
    }

    /// The reviewers' comments on lines of pull request `number`'s diff (path, line,
    /// text, and the review each belongs to), oldest first. With the review bodies
    /// from [`Self::list_reviews`], what a reviewer asked for.
    pub async fn review_comments(&self, number: u64) -> Result<Vec<ReviewComment>, GithubError> {
        self.get_pages(
            &format!("pulls/{number}/comments"),
            &format!("review comments on #{number}"),
            PULLS_READ,
        )
        .await
    }

    pub async fn add_labels(&self, number: u64, labels: &[&str]) -> Result<(), GithubError> {
        let op = Op::new(format!("labelling #{number}"), "issues: write");
        let _: Value = self
            .send(
                Method::POST,
                &format!("issues/{number}/labels"),
                &json!({"labels": labels}),
                op,
            )
            .await?;
        Ok(())
    }

    pub async fn request_reviewers(
        &self,
        number: u64,
        reviewers: &[&str],
    ) -> Result<(), GithubError> {
        let op = Op::new(format!("requesting reviewers on #{number}"), PULLS);
        let _: Value = self
            .send(
                Method::POST,
                &format!("pulls/{number}/requested_reviewers"),
                &json!({"reviewers": reviewers}),
                op,
            )
            .await?;
        Ok(())
    }

    /// Every review, oldest first (all pages).
    pub async fn list_reviews(&self, number: u64) -> Result<Vec<Review>, GithubError> {
        let mut all = Vec::new();
        for page in 1.. {
            let op = Op::new(format!("reviews of #{number}"), PULLS_READ);
            let batch: Vec<Review> = self
                .get(
                    &format!("pulls/{number}/reviews?per_page=100&page={page}"),
                    op,
                )
                .await?;
            let done = batch.len() < 100;
            all.extend(batch);
            if done {
                break;
            }
        }
        Ok(all)
    }

    /// GraphQL `reviewDecision`; None when no review is required on the base.
    pub async fn review_decision(
        &self,
        number: u64,
    ) -> Result<Option<ReviewDecision>, GithubError> {
        let query = "query($owner:String!,$name:String!,$number:Int!){repository(owner:$owner,name:$name){pullRequest(number:$number){reviewDecision}}}";
        let vars = json!({"owner": self.config.owner, "name": self.config.repo, "number": number});
        let data = self
            .graphql(query, vars, &format!("the review decision of #{number}"))
            .await?;
        Ok(data["repository"]["pullRequest"]["reviewDecision"]
            .as_str()
            .and_then(ReviewDecision::from_graphql))
    }

    /// Who approved, who asked for changes and whose approval went stale, with the
    /// decision GitHub reports (the local reduction when GraphQL gives none).
    pub async fn review_summary(
        &self,
        pull: &PullRequest,
        protection: Option<&BranchProtection>,
    ) -> Result<ReviewSummary, GithubError> {
        let reviews = self.list_reviews(pull.number).await?;
        let author = pull.user.as_ref().map(|u| u.login.as_str()).unwrap_or("");
        let mut summary = summarize(&reviews, &pull.head.sha, author, protection);
        if let Some(decision) = self.review_decision(pull.number).await? {
            summary.decision = decision;
        }
        Ok(summary)
    }

    /// Merges exactly `head_sha`. 405 (protection unmet, conflict, draft) is
    /// `MergeRefused` with GitHub's words; 409 (head moved) is `HeadModified`.
    pub async fn merge_pull(
        &self,
        number: u64,
        head_sha: &str,
        method: MergeMethod,
        title: Option<&str>,
    ) -> Result<MergeResult, GithubError> {
        let mut body = json!({"sha": head_sha, "merge_method": method.as_str()});
        if let Some(title) = title {
            body["commit_title"] = json!(title);
        }
        let op = Op::new(format!("merging #{number}"), "contents: write");
        match self
            .send(Method::PUT, &format!("pulls/{number}/merge"), &body, op)
            .await
        {
            Err(GithubError::Status {
                status: 405,
                message,
                ..
            }) => Err(GithubError::MergeRefused {
                pr: number,
                message,
            }),
            Err(GithubError::Status { status: 409, .. }) => Err(GithubError::HeadModified {
                pr: number,
                expected_sha: head_sha.into(),
            }),
            other => other,
        }
    }

    /// Opens a PR that reverts merged `pull`: GraphQL `revertPullRequest`, or when
    /// that is refused, the same with git data (see [`Self::revert_with_git_data`]).
    pub async fn revert_pull(&self, pull: &PullRequest) -> Result<RevertPull, GithubError> {
        let query = "mutation($input:RevertPullRequestInput!){revertPullRequest(input:$input){revertPullRequest{number url}}}";
        let vars = json!({"input": {"pullRequestId": pull.node_id, "title": format!("Revert \"{}\"", pull.title), "body": format!("Reverts #{}", pull.number), "draft": false}});
        match self
            .graphql(query, vars, &format!("reverting #{}", pull.number))
            .await
        {
            Ok(data) => {
                let pr = &data["revertPullRequest"]["revertPullRequest"];
                match (pr["number"].as_u64(), pr["url"].as_str()) {
                    (Some(number), Some(url)) => Ok(RevertPull {
                        number,
                        url: url.into(),
                    }),
                    _ => self.revert_with_git_data(pull).await,
                }
            }
            Err(
                GithubError::Validation { .. }
                | GithubError::Forbidden { .. }
                | GithubError::NotFound { .. },
            ) => self.revert_with_git_data(pull).await,
            Err(e) => Err(e),
        }
    }

    /// Revert by git data: on the base tip, set every file the merge changed back to
    /// its blob before the merge (delete the ones it added) — only if no later commit
    /// touched them — then push `revert-<n>` and open a PR.
    pub async fn revert_with_git_data(
        &self,
        pull: &PullRequest,
    ) -> Result<RevertPull, GithubError> {
        let merge_sha = pull
            .merge_commit_sha
            .clone()
            .filter(|_| pull.merged == Some(true))
            .ok_or_else(|| GithubError::Validation {
                what: format!("reverting #{}", pull.number),
                message: "the pull request is not merged".into(),
                errors: Vec::new(),
            })?;
        let merge = self.git_commit(&merge_sha).await?;
        let before = merge
            .parents
            .first()
            .map(|p| p.sha.clone())
            .ok_or_else(|| GithubError::Decode {
                what: format!("merge commit {merge_sha}"),
                reason: "it has no parent".into(),
            })?;
        let changed: Comparison = self.compare(&before, &merge_sha).await?;
        let tip = self.base_of(&pull.base.name).await?;
        if tip.commit != merge_sha {
            let since = self.compare(&merge_sha, &tip.commit).await?;
            let touched: Vec<&str> = since
                .files
                .iter()
                .map(|f| f.filename.as_str())
                .filter(|f| changed.files.iter().any(|c| c.filename == *f))
                .collect();
            if !touched.is_empty() {
                return Err(GithubError::Validation {
                    what: format!("reverting #{}", pull.number),
                    message: format!(
                        "{} changed again after the merge; revert by hand",
                        touched.join(", ")
                    ),
                    errors: Vec::new(),
                });
            }
        }
        let old: TreeListing = self
            .get(
                &format!("git/trees/{before}?recursive=1"),
                Op::new(format!("tree {before}"), "contents: read"),
            )
            .await?;
        let entries: Vec<Value> = changed
            .files
            .iter()
            .map(|f| {
                let sha = old
                    .tree
                    .iter()
                    .find(|i| i.path == f.filename && i.kind == "blob")
                    .map(|i| json!(i.sha))
                    .unwrap_or(Value::Null);
                json!({"path": f.filename, "mode": "100644", "type": "blob", "sha": sha})
            })
            .collect();
        let op = Op::new(
            format!("a revert tree for #{}", pull.number),
            "contents: write",
        );
        let tree: Value = self
            .send(
                Method::POST,
                "git/trees",
                &json!({"base_tree": tip.tree, "tree": entries}),
                op,
            )
            .await?;
        let message = format!(
            "Revert \"{}\"\n\nThis reverts commit {merge_sha}.",
            pull.title
        );
        let op = Op::new(
            format!("a revert commit for #{}", pull.number),
            "contents: write",
        );
        let commit: Value = self
            .send(
                Method::POST,
                "git/commits",
                &json!({"message": message, "tree": tree["sha"], "parents": [tip.commit]}),
                op,
            )
            .await?;
        let commit = BaseCommit {
            commit: commit["sha"].as_str().unwrap_or_default().into(),
            tree: tree["sha"].as_str().unwrap_or_default().into(),
        };
        let branch = format!("revert-{}", pull.number);
        self.write_branch(&branch, &commit.commit, BranchWrite::Create)
            .await?;
        let body = format!("Reverts #{}", pull.number);
        let title = format!("Revert \"{}\"", pull.title);
        let pr = self
            .create_pull(&NewPull {
                title: &title,
                head: &branch,
                base: &pull.base.name,
                body: &body,
                draft: false,
            })
            .await?;
        Ok(RevertPull {
            number: pr.number,
            url: pr.html_url,
        })
    }

    /// POSTs a GraphQL document (a `query` is retried like a read, a `mutation`
    /// is not); GraphQL `errors` become `Validation`, or `NotFound`.
    async fn graphql(
        &self,
        query: &str,
        variables: Value,
        what: &str,
    ) -> Result<Value, GithubError> {
        let op = Op::new(what, PULLS);
        let body = json!({"query": query, "variables": variables});
        let reply = if query.trim_start().starts_with("query") {
            self.http.post_query("/graphql", &body, &op).await?
        } else {
            self.http.post("/graphql", &body, &op).await?
        };
        if let Some(errors) = reply["errors"].as_array().filter(|e| !e.is_empty()) {
            let messages: Vec<String> = errors
                .iter()
                .map(|e| {
                    e["message"]
                        .as_str()
                        .unwrap_or("unknown GraphQL error")
                        .to_string()
                })
                .collect();
            let not_found = errors.iter().any(|e| e["type"] == "NOT_FOUND");
            return Err(if not_found {
                GithubError::NotFound {
                    what: format!("{what} ({})", messages.join("; ")),
                    message: messages.join("; "),
                }
            } else {
                GithubError::Validation {
                    what: what.into(),
                    message: "GraphQL error".into(),
                    errors: messages,
                }
            });
        }
        Ok(reply["data"].clone())
    }
}
